"""Content negotiation for the log and env routes: a path suffix or the Accept header picks the format."""

from .errors import ApiError

JSON = "application/json"
TEXT = "text/plain"
HTML = "text/html"

CONTENT_TYPES = {
    JSON: "application/json; charset=utf-8",
    TEXT: "text/plain; charset=utf-8",
    HTML: "text/html; charset=utf-8",
}


def accepted_media_ranges(header):
    """Return the media ranges of an Accept header in lower case, highest quality first, without those of quality 0.

    Ranges of equal quality keep their order in the header. A quality that is not a number counts as 0.
    """
    ranked = []
    for position, part in enumerate((header or "").split(",")):
        media_range, *parameters = [field.strip() for field in part.split(";")]
        if not media_range:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _separator, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, media_range.lower()))
    return [media_range for _quality, _position, media_range in sorted(ranked)]


def choose_media_type(accept_header, suffix_type, offered):
    """Return the media type of the response, or raise 406 ``Not Acceptable``.

    ``suffix_type`` is the type that a path suffix names (``.txt`` is text/plain), or None.
    A suffix wins over the Accept header, except that an Accept header that lists only
    ``application/json`` gets a 406. Without a suffix, the first acceptable type of ``offered``
    wins; ``*/*``, ``application/*`` and no Accept header mean JSON.
    """
    media_ranges = accepted_media_ranges(accept_header)
    if suffix_type is not None:
        if media_ranges and all(media_range == JSON for media_range in media_ranges):
            raise ApiError(406, "Not Acceptable")
        return suffix_type
    if not media_ranges:
        return JSON
    for media_range in media_ranges:
        if media_range in offered:
            return media_range
        if media_range == "*/*":
            return JSON
        major, _slash, minor = media_range.partition("/")
        if minor == "*":
            for media_type in offered:
                if media_type.startswith(f"{major}/"):
                    return media_type
    raise ApiError(406, "Not Acceptable")
