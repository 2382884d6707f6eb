"""A bookshop API written the way a Sanic user writes one, on Hurtle.

    python examples/bookshop.py          # http://127.0.0.1:8000, two workers
    curl http://127.0.0.1:8000/v1/api/books            # a blueprint in a versioned group
    curl -X POST http://127.0.0.1:8000/v1/api/books -d '{"title": "Dune"}'
    curl http://127.0.0.1:8000/v1/api/books/1          # a class-based view
    curl http://127.0.0.1:8000/v2/api/stats            # version 2 of the same group
    curl http://127.0.0.1:8000/links                   # url_for, static URLs
    curl http://127.0.0.1:8000/static/site.css         # app.static

Every response carries ``X-Request-ID`` (the client's, or a new one) and every request is
logged with its id; a signal counts the books added; a background task in each worker
publishes the count it sees. The port comes from ``HURTLE_DEMO_PORT`` (0 = any free port).
"""

import asyncio
import itertools
import os
from pathlib import Path

from hurtle import Blueprint, HTTPMethodView, Hurtle, Request
from hurtle.exceptions import BadRequest, NotFound
from hurtle.log import logger
from hurtle.response import json, text

app = Hurtle("bookshop")
books: dict[int, dict[str, object]] = {}
ids = itertools.count(1)
app.ctx.added = 0
app.ctx.heartbeat = 0

catalogue = Blueprint("books", url_prefix="/books")
stats = Blueprint("stats", url_prefix="/stats", version=2)


@catalogue.get("/")
async def list_books(request: Request):
    """Every book of this worker's catalogue."""
    return json(sorted(books.values(), key=lambda book: book["id"]))


@catalogue.post("/")
async def add_book(request: Request):
    """Add a book from a JSON body ``{"title": ...}``."""
    title = (request.json or {}).get("title")
    if not title:
        raise BadRequest("a book needs a title")
    book = {"id": next(ids), "title": title}
    books[book["id"]] = book
    await app.dispatch("shop.book.added", context={"book": book}, inline=True)
    return json(book, 201, headers={"Location": app.url_for("books.Book", book_id=book["id"])})


class Book(HTTPMethodView):
    """One book: read it or delete it."""

    async def get(self, request: Request, book_id: int):
        if book_id not in books:
            raise NotFound(f"no book {book_id}")
        return json(books[book_id])

    async def delete(self, request: Request, book_id: int):
        books.pop(book_id, None)
        return text("", 204)


catalogue.add_route(Book.as_view(), "/<book_id:int>")


@catalogue.exception(NotFound)
async def missing_book(request: Request, exc: Exception):
    """The catalogue answers a missing book in JSON; the rest of the app in text."""
    return json({"error": str(exc), "request_id": str(request.id)}, 404)


@stats.get("/")
async def shop_stats(request: Request):
    return json({"books": len(books), "added": app.ctx.added, "heartbeat": app.ctx.heartbeat})


api = Blueprint.group(catalogue, stats, url_prefix="/api", version=1)


@api.on_request
async def log_request(request: Request):
    logger.info("request %s %s %s", request.id, request.method, request.path)


app.blueprint(api)


@app.on_response
async def request_id_header(request: Request, response):
    response.headers["X-Request-ID"] = str(request.id)


@app.get("/links")
async def links(request: Request):
    return json(
        {
            "books": app.url_for("books.list_books"),
            "book_7": app.url_for("books.Book", book_id=7),
            "stats": app.url_for("stats.shop_stats"),
            "css": app.url_for("static", filename="site.css"),
        }
    )


@app.signal("shop.book.added")
async def count_book(book):
    app.ctx.added += 1
    logger.info("book added: %s", book["title"])


async def heartbeat(app):
    """A background task in each worker: cancelled when the worker stops."""
    while True:
        app.ctx.heartbeat += 1
        await asyncio.sleep(0.2)


app.add_task(heartbeat, name="heartbeat")
app.static("/static", Path(__file__).parent / "static")


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app.run(port=int(os.environ.get("HURTLE_DEMO_PORT", "8000")), workers=1)
