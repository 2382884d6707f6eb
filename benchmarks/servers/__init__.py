"""Benchmark servers: one small script per server, each run as `python <script> PORT`.

Every script serves the same three routes on 127.0.0.1:PORT, single process, no access log:
`GET /` → `{"hello":"world"}`, `GET /user/<int>` → `{"id": <int>}`, `POST /echo` → the body.
"""
