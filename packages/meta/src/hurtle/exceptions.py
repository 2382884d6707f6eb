"""``hurtle.exceptions``: the HTTP exceptions under the reference's names.

``HurtleException`` is the base of every error answered with an HTTP status (it is
hurtle-http's ``HTTPException``): ``raise HurtleException("No", status_code=418)``.
"""

from hurtle_http.exceptions import (
    BadRequest,
    ExpectationFailed,
    FileNotFound,
    Forbidden,
    HeaderFieldsTooLarge,
    HeaderNotFound,
    HTTPException,
    HTTPVersionNotSupported,
    InternalServerError,
    InvalidHeader,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
    RequestTimeout,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    URITooLong,
    URLBuildError,
)

HurtleException = HTTPException
InvalidUsage = BadRequest
MethodNotSupported = MethodNotAllowed
HeaderExpectationFailed = ExpectationFailed
ContentRangeError = RangeNotSatisfiable

__all__ = [
    "BadRequest",
    "ContentRangeError",
    "ExpectationFailed",
    "FileNotFound",
    "Forbidden",
    "HTTPException",
    "HTTPVersionNotSupported",
    "HeaderExpectationFailed",
    "HeaderFieldsTooLarge",
    "HeaderNotFound",
    "HurtleException",
    "InternalServerError",
    "InvalidHeader",
    "InvalidUsage",
    "MethodNotAllowed",
    "MethodNotSupported",
    "NotFound",
    "PayloadTooLarge",
    "RangeNotSatisfiable",
    "RequestTimeout",
    "ServerError",
    "ServiceUnavailable",
    "URITooLong",
    "URLBuildError",
    "Unauthorized",
]
