"""A real SMTP server (aiosmtpd) that keeps what it receives: the demo's mailbox and the tests' mail server.

Every message is parsed as a mail client would (``email.policy.default``): the subject decoded from its
RFC 2047 encoding, the plain-text and HTML parts. ``echo`` prints each message's subject and text (the
demo inbox of ``make run``). Optional ``login`` (user, password) makes the server require AUTH.
"""

from __future__ import annotations

import email
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from devtools.ports import free_port


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())  # type: ignore[attr-defined]


@dataclass
class MailSink:
    port: int = 0
    echo: bool = False
    login: tuple[str, str] | None = None
    tls: ssl.SSLContext | None = None  # with ``implicit_tls``: TLS from the first byte (port 465 style)
    implicit_tls: bool = False  # else, with ``tls``: STARTTLS offered and required
    messages: list[ReceivedMail] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> MailSink:
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                raw = bytes(envelope.original_content or envelope.content)
                message = email.message_from_bytes(raw, policy=default_policy)
                assert isinstance(message, EmailMessage)
                mail = ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), raw, message)
                with sink._lock:
                    sink.messages.append(mail)
                if sink.echo:
                    sink._print(mail)
                return "250 Message accepted for delivery"

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and sink.login is not None and (
                auth_data.login.decode(), auth_data.password.decode()) == sink.login
            return AuthResult(success=ok)

        options: dict[str, Any] = {}
        if self.login is not None:
            options = {"authenticator": authenticate, "auth_require_tls": self.tls is not None, "auth_required": True}
        if self.tls is not None and self.implicit_tls:
            options["ssl_context"] = self.tls
        elif self.tls is not None:
            options.update({"tls_context": self.tls, "require_starttls": True})
        self.port = self.port or free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def snapshot(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self.messages)

    @staticmethod
    def _print(mail: ReceivedMail) -> None:
        print(f"[agency inbox] email to {', '.join(mail.rcpt_tos)}: {mail.subject}", flush=True)
        for line in mail.part("plain").splitlines():
            print(f"    {line}", flush=True)
