"""SmtpMailer: login codes over SMTP with aiosmtplib, so a slow mail server never blocks the event loop.

It speaks STARTTLS or implicit TLS. STARTTLS, when chosen, is required
rather than attempted (a server that does not offer it is an error, not a
reason to send the code in clear), every step has a timeout, and any failure
becomes MailUnavailableError: the api answers 503 and keeps no challenge
whose code never left.
"""

from __future__ import annotations

import logging
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from kartoteka.application.identity.ports import MailMessage, MailUnavailableError
from kartoteka.infrastructure.config.auth import SmtpSettings

log = logging.getLogger(__name__)


class SmtpMailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        # Read once here: loading a CA bundle reads files, which has no place on the event loop later.
        self._tls_context = (
            ssl.create_default_context(cafile=str(settings.ca_file)) if settings.ca_file is not None else None
        )
        # socket.getfqdn() (aiosmtplib's default, and make_msgid's) can stall on reverse DNS; the plain
        # host name needs no look-up.
        self._helo = settings.helo_hostname or socket.gethostname() or "localhost"
        self._id_domain = settings.from_address.rpartition("@")[2] or self._helo

    async def send(self, message: MailMessage) -> None:
        s = self._settings
        mail = EmailMessage()
        mail["From"] = s.from_address
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self._id_domain)
        mail.set_content(message.body)
        try:
            await aiosmtplib.send(
                mail,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password.get_secret_value() if s.password is not None else None,
                use_tls=s.tls == "tls",
                start_tls=s.tls == "starttls",
                tls_context=self._tls_context,
                timeout=s.timeout_s,
                local_hostname=self._helo,
            )
        except (TimeoutError, aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            # The type and SMTP status say what went wrong; the message body (the code) is never logged.
            code = getattr(exc, "code", None)
            reason = f"{type(exc).__name__}" + (f" {code}" if code else "")
            log.warning("mail server %s:%s did not take a login code message: %s", s.host, s.port, reason)
            raise MailUnavailableError(f"the mail server did not accept the message ({reason})") from exc
