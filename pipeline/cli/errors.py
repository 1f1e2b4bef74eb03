"""Every failure of the ``newswire`` command as one line, without secrets.

``one_line(exc)`` is the whole policy: the message ``main`` prints after ``error:``
and the exit status (2 for a misused command line, 1 otherwise). It never shows a
value the user typed into a setting (it may be a password) and masks the password
of every URL it prints.
"""

from __future__ import annotations

import re

import typer
import yaml
from pydantic import ValidationError
from pydantic_settings import SettingsError

from pipeline.errors import NewswireError

USAGE = 2
FAILURE = 1

# scheme://user:password@host -> scheme://user:***@host
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/@:]*:)[^\s/@]*@")


# Errors a user can cause and fix; anything else is a bug, whose traceback ``-v`` shows.
EXPECTED = (
    typer.TyperException,
    NewswireError,
    ValidationError,
    SettingsError,
    yaml.YAMLError,
    OSError,
)


def mask_secrets(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\g<head>***@", text)


def _flat(text: str) -> str:
    return mask_secrets(" ".join(text.split()))


def validation_line(exc: ValidationError) -> str:
    """The first error of a settings (or other model) validation: field and message,
    never the input, which may be a secret."""
    first = exc.errors(include_input=False, include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if exc.title != "Settings":
        return f"invalid {exc.title}: {field + ': ' if field else ''}{first['msg']}{more}"
    where = f"{field} (NEWSWIRE_{field.upper()}): " if field else ""
    return f"invalid setting: {where}{first['msg'].removeprefix('Value error, ')}{more}"


def one_line(exc: BaseException) -> tuple[str, int]:
    """The message (one line, secrets masked) and exit status for an error that
    ended a command; ``typer.Exit``, ``Abort`` and interrupts are ``main``'s to handle."""
    if isinstance(exc, typer.TyperException):  # the parser: bad option, missing argument
        return _flat(exc.format_message()), getattr(exc, "exit_code", USAGE)
    if isinstance(exc, NewswireError):
        return _flat(str(exc)), FAILURE
    if isinstance(exc, ValidationError):
        return _flat(validation_line(exc)), FAILURE
    if isinstance(exc, SettingsError):  # an environment value that is not valid JSON
        # pydantic-settings puts the offending value in the message: only the field name.
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"{field[1]} (NEWSWIRE_{field[1].upper()})" if field else "a value"
        return f"invalid setting: {name}: cannot parse its value", FAILURE
    if isinstance(exc, yaml.YAMLError):  # the settings file (NEWSWIRE_CONFIG)
        # The problem and where, not the quoted line: that line may hold a password.
        mark = getattr(exc, "problem_mark", None)
        name = mark.name if mark and not mark.name.startswith("<") else "configuration file"
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        return _flat(f"{name}: not valid YAML: {problem}{where}"), FAILURE
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return _flat(f"{exc.strerror or type(exc).__name__}{where}"), FAILURE
    return _flat(f"unexpected {type(exc).__name__}: {exc} (run with -v for details)"), FAILURE
