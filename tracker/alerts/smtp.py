"""One SMTP connection per drain, and what its failures mean for a message.

Temporary failures (4xx, connection or login trouble) keep the message for a
later attempt; permanent ones (5xx) end it.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from tracker.settings import MailConfig


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


class Mailer:
    """One SMTP connection, opened on first use and reused for the whole drain."""

    def __init__(self, mail: MailConfig, timeout: float = 30):
        self.mail = mail
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        try:
            smtp = self._connection()
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values())
            raise (PermanentFailure if all(c >= 500 for c in codes) else TemporaryFailure)(
                f"recipient refused: {detail}"
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            self.close()  # a configuration problem: keep the message until it is fixed
            raise TemporaryFailure(f"SMTP login failed ({exc.smtp_code}); check [mail] username/password") from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            failure = PermanentFailure if exc.smtp_code >= 500 else TemporaryFailure
            raise failure(f"SMTP {exc.smtp_code} {text}") from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TemporaryFailure(
                f"cannot reach the SMTP server {self.mail.smtp_host}:{self.mail.smtp_port}: {exc or exc.__class__.__name__}"
            ) from None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            mail = self.mail
            smtp: smtplib.SMTP
            if mail.ssl:
                smtp = smtplib.SMTP_SSL(
                    mail.smtp_host, mail.smtp_port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=self.timeout)
                if mail.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if mail.username:
                smtp.login(mail.username, mail.password)
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp = None
