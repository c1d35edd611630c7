"""Serving over TLS: ``run --ssl-certificate FILE --ssl-keyfile FILE`` (Rasa's options).

:func:`create_ssl_context` builds the server's :class:`ssl.SSLContext` from the
files and turns every way they can be wrong (missing, not PEM, an encrypted
key without its password, a wrong password, a key of another certificate)
into one :class:`~dialogflowlite.errors.ConfigError` that names the file.
:func:`install_tls` makes an app build that context when it starts serving,
in every worker process (an ``SSLContext`` cannot be sent to another process,
so each one loads the files itself).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from dialogflowlite.errors import ConfigError

if TYPE_CHECKING:
    from sanic import Sanic

    from dialogflowlite.server.app import ServerConfig


class _PasswordNeeded(Exception):
    """Raised by the password callback: the key is encrypted and no password was given."""


def _no_password() -> str:
    # Without a callback OpenSSL would prompt on the terminal, which hangs a server
    # started by Docker or systemd; failing names the missing option instead.
    raise _PasswordNeeded


def check_tls_options(certificate: str | None, keyfile: str | None, ca_file: str | None,
                      password: str | None) -> None:
    """Refuse TLS options that only make sense with a certificate when none is given."""
    if certificate:
        return
    given = [option for option, value in (("--ssl-keyfile", keyfile),
                                          ("--ssl-ca-file", ca_file),
                                          ("--ssl-password", password)) if value]
    if given:
        # Rasa ignores them and serves plain HTTP, which is the opposite of what was asked.
        raise ConfigError(f"{', '.join(given)} needs --ssl-certificate",
                          hint="pass the server's certificate with --ssl-certificate FILE "
                               "(PEM), or leave the TLS options out to serve plain HTTP")


def _readable(path: str, option: str) -> None:
    if Path(path).is_dir():
        raise ConfigError(f"the {option} file {path} is a folder",
                          hint=f"pass the PEM file itself with {option}")
    if not Path(path).is_file():
        raise ConfigError(f"the {option} file {path} does not exist",
                          hint=f"pass an existing PEM file with {option}")


def _check_certificate_file(certificate: str) -> None:
    """Fail when ``certificate`` holds no PEM certificate (checked on its own, to name it)."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cafile=certificate)
    except ssl.SSLError as e:
        raise ConfigError(f"the --ssl-certificate file {certificate} holds no PEM certificate",
                          hint="pass the certificate (chain) in PEM form: text that starts "
                               "with -----BEGIN CERTIFICATE-----") from e


def _key_problem(certificate: str, keyfile: str | None, password: str | None,
                 error: ssl.SSLError) -> ConfigError:
    """The ConfigError that explains why the key of ``certificate`` could not be loaded."""
    text = Path(keyfile or certificate).read_bytes()
    if keyfile is None and b"PRIVATE KEY" not in text:
        return ConfigError(f"the --ssl-certificate file {certificate} holds no private key",
                           hint="pass the key of the certificate with --ssl-keyfile FILE")
    key = f"the --ssl-keyfile {keyfile}" if keyfile else f"the key in {certificate}"
    if "KEY_VALUES_MISMATCH" in str(error):
        return ConfigError(f"{key} is not the key of the certificate {certificate}",
                           hint="pass the key the certificate was made for")
    if password and b"ENCRYPTED" in text:
        return ConfigError(f"{key} could not be decrypted with the --ssl-password given",
                           hint="check the password of the key")
    return ConfigError(f"{key} is not a PEM private key",
                       hint="pass the private key in PEM form: text that starts with "
                            "-----BEGIN ... PRIVATE KEY-----")


def create_ssl_context(certificate: str | None, keyfile: str | None = None,
                       ca_file: str | None = None,
                       password: str | None = None) -> ssl.SSLContext | None:
    """The server's TLS context, or None without a certificate (plain HTTP).

    As in Rasa: a context for server use with the certificate chain (and its
    key, decrypted with ``password``) loaded, and ``ca_file`` loaded as the
    trusted certificates. The key may also sit in the certificate file.
    """
    check_tls_options(certificate, keyfile, ca_file, password)
    if not certificate:
        return None
    for path, option in ((certificate, "--ssl-certificate"), (keyfile, "--ssl-keyfile"),
                         (ca_file, "--ssl-ca-file")):
        if path:
            _readable(path, option)
    _check_certificate_file(certificate)
    context = ssl.create_default_context(purpose=ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certificate, keyfile=keyfile, password=password or _no_password)
    except _PasswordNeeded:
        raise ConfigError(f"the key in {keyfile or certificate} is encrypted",
                          hint="pass its password with --ssl-password") from None
    except ssl.SSLError as e:
        raise _key_problem(certificate, keyfile, password, e) from e
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except ssl.SSLError as e:
            raise ConfigError(f"the --ssl-ca-file {ca_file} holds no PEM certificate",
                              hint="pass the CA certificates in PEM form") from e
    return context


def ssl_context_of(config: ServerConfig) -> ssl.SSLContext | None:
    """:func:`create_ssl_context` for the TLS settings of ``config``."""
    return create_ssl_context(config.ssl_certificate, config.ssl_keyfile, config.ssl_ca_file,
                              config.ssl_password)


def install_tls(app: Sanic, config: ServerConfig) -> None:
    """Make ``app`` serve HTTPS with the certificate of ``config`` (if it has one).

    Sanic asks the app's cert loader for the context in the process that
    serves, one worker or many; this loader builds it from the app's config.
    """
    if not config.ssl_certificate:
        return
    from sanic.worker.loader import CertLoader

    class ConfigCertLoader(CertLoader):
        def load(self, app: Sanic) -> ssl.SSLContext | None:
            return ssl_context_of(app.ctx.config)

    app.certloader_class = ConfigCertLoader
