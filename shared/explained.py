"""A validation error in both languages its readers use: English (an answer's ``message``) and Chinese
(``message_zh``, what a lab clerk reads), so no Chinese message has to quote the English one.

Raised from pydantic validators (pydantic keeps the exception in the error's context) and from the
catalogue's region look-up; intake's answers carry both texts.
"""

from __future__ import annotations


class Explained(ValueError):
    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message_zh = message_zh
