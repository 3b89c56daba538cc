"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for tests."""

from __future__ import annotations

import datetime
import socket
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Sink:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1, made with the `cryptography` package."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def start(
    sink: Sink, *, tls: str = "none", tmp: Path | None = None, users: dict[str, str] | None = None
) -> Controller:
    """Start a sink: ``tls`` is none, starttls or ssl; ``users`` enables AUTH LOGIN/PLAIN."""
    kwargs: dict = {}
    server_kwargs: dict = {}
    if tls != "none":
        assert tmp is not None
        cert, key = self_signed(tmp)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if tls == "ssl":
            kwargs["ssl_context"] = context
        else:
            server_kwargs.update(tls_context=context, require_starttls=True)
    if users is not None:

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = users.get(auth_data.login.decode()) == auth_data.password.decode()
            return AuthResult(success=ok)

        # aiosmtpd only counts STARTTLS as TLS for AUTH; implicit TLS is encrypted anyway
        server_kwargs.update(authenticator=authenticate, auth_require_tls=tls == "starttls")
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), **kwargs, **server_kwargs)
    controller.start()
    return controller
