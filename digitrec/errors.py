"""The project's own error types, so callers can tell bad input from bugs."""


class DigitrecError(Exception):
    """Base class of every error digitrec raises on purpose."""


class InvalidImageError(DigitrecError, ValueError):
    """The input cannot be turned into a digit image (not an image, empty, too large...).

    The message is written for the person who sent the input.
    """


class NotADigitError(InvalidImageError):
    """The input has ink, but too little to be any digit (a dot, a dash).

    Apart from other bad input so that a drawing in progress (a 7 begun with its bar) can
    be told "keep drawing" rather than shown an error.
    """


class DatasetError(DigitrecError, ValueError):
    """A dataset file is missing, truncated or has the wrong shape; the message names it."""


class UntrustedModelError(DigitrecError):
    """A model file references types outside the allowlist and was not loaded."""


class HubUnavailableError(DigitrecError):
    """The Hub could not be reached and nothing usable was cached for the request."""


class HubError(DigitrecError):
    """A Hub operation failed for a reason the user can act on (bad token, unknown repo...).

    The message says what went wrong and what to do; it never contains the token.
    """
