"""The project's own error types, so callers can tell bad input from bugs."""


class DigitrecError(Exception):
    """Base class of every error digitrec raises on purpose."""


class InvalidImageError(DigitrecError, ValueError):
    """The input cannot be turned into a digit image (not an image, empty, too large...).

    The message is written for the person who sent the input.
    """


class DatasetError(DigitrecError, ValueError):
    """A dataset file is missing, truncated or has the wrong shape; the message names it."""


class UntrustedModelError(DigitrecError):
    """A model file references types outside the allowlist and was not loaded."""


class HubUnavailableError(DigitrecError):
    """The Hub could not be reached and nothing usable was cached for the request."""
