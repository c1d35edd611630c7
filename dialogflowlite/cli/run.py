"""``dialogflowlite run``: serve the trained bot over HTTP (channels, web chat, API).

It takes the options of ``rasa run`` that deployments use (``-i``, ``-t``,
the timeouts, TLS, ``--connector``, syslog), and ``run actions`` starts
rasa-sdk's action server as ``rasa run actions`` does.
"""

from __future__ import annotations

import argparse
import logging
import os

from dialogflowlite.cli.command import Command
from dialogflowlite.cli.options import port_number, positive_int, server_port
from dialogflowlite.errors import ConfigError

logger = logging.getLogger(__name__)

#: the options ``run actions`` passes on to rasa-sdk (every other one is the bot server's)
ACTION_SERVER_OPTIONS = ("part", "project", "host", "port", "cors", "ssl_certificate",
                         "ssl_keyfile", "ssl_password", "actions", "auto_reload", "endpoints")
#: the options only ``run actions`` has
ACTIONS_ONLY_OPTIONS = ("actions", "auto_reload")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from dialogflowlite.cli.run_actions import DEFAULT_ACTIONS_PORT
    from dialogflowlite.server.serve import DEFAULT_HOST, DEFAULT_PORT

    parser.add_argument("part", nargs="?", choices=("actions",),
                        help="`actions`: start rasa-sdk's action server instead of the bot "
                             "(as `rasa run actions`; see the action server options)")
    parser.add_argument("--project", default=".", help="project folder (default: .)")
    parser.add_argument("-m", "--model", default=None,
                        help="model file or folder of models (default: the newest under "
                             "models/ that has dialogue policies)")
    parser.add_argument("--endpoints", default=None, metavar="FILE",
                        help="endpoints file (default: endpoints.yml of the project); for "
                             "`run actions`, the file with rasa-sdk's tracing settings "
                             "(rasa-sdk 3.8 and later)")
    parser.add_argument("--credentials", default=None, metavar="FILE",
                        help="channel credentials file (default: credentials.yml of the project)")
    parser.add_argument("--connector", default=None, metavar="CHANNEL",
                        help="serve only this channel, with its credentials.yml section if "
                             "there is one (no web chat unless it is `rest`)")
    parser.add_argument("-i", "--interface", "--host", dest="host", default=None,
                        metavar="ADDRESS", help=f"address to listen on (default: {DEFAULT_HOST})")
    parser.add_argument("--port", "-p", type=port_number, default=None,
                        help=f"port (default: {DEFAULT_PORT}; {DEFAULT_ACTIONS_PORT} for "
                             "`run actions`)")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="worker processes; several need a shared tracker store (default: 1)")
    parser.add_argument("--enable-api", action="store_true",
                        help="serve the HTTP API (/model/*, /conversations/*, /domain, /status)")
    # both may be given, as in Rasa: a request passes with the token or with a JWT
    parser.add_argument("-t", "--auth-token", default=os.environ.get("DFL_AUTH_TOKEN"),
                        help="token the API and /metrics require (?token=... or Bearer); "
                             "default: $DFL_AUTH_TOKEN")
    parser.add_argument("--jwt-secret", default=os.environ.get("DFL_JWT_SECRET"),
                        help="secret (or public key) that API JWTs are verified with; "
                             "default: $DFL_JWT_SECRET")
    parser.add_argument("--jwt-method", default="HS256", help="JWT algorithm (default: HS256)")
    parser.add_argument("--jwt-private-key", default=None, metavar="KEY",
                        help="accepted for Rasa's scripts and not needed: the server only "
                             "verifies tokens, with the public key given as --jwt-secret")
    parser.add_argument("--cors", action="extend", nargs="+", default=[], metavar="ORIGIN",
                        help="allow browser pages from these origins ('*' for any); as in "
                             "Rasa, several may follow one --cors, and --cors may repeat")
    parser.add_argument("--max-message-chars", type=positive_int, default=5000,
                        help="longest user message accepted (default: 5000)")
    parser.add_argument("--no-webchat", action="store_true", help="do not serve /chat")
    parser.add_argument("--quantize", action="store_true",
                        help="load transformer NLU models with int8 weights (faster on CPU)")
    parser.add_argument("--remote-storage", default=None, metavar="aws|gcs|azure",
                        help="not built in: take models from a model server (endpoints.yml "
                             "`models:`) instead")
    _add_timeout_arguments(parser)
    _add_tls_arguments(parser)
    _add_syslog_arguments(parser)
    _add_action_server_arguments(parser)


def _add_timeout_arguments(parser: argparse.ArgumentParser) -> None:
    from dialogflowlite.server.app import ServerConfig

    default = ServerConfig.response_timeout
    parser.add_argument("--response-timeout", type=positive_int, default=int(default),
                        metavar="SECONDS",
                        help=f"longest time to answer a request, then 503 (default: "
                             f"{default:g}; Rasa's is 3600)")
    parser.add_argument("--request-timeout", type=positive_int, default=None, metavar="SECONDS",
                        help="longest time a client may take to send its request (default: "
                             "60, or --response-timeout when longer; Rasa's is 300)")


def _add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    tls = parser.add_argument_group("TLS (serve HTTPS instead of HTTP)")
    tls.add_argument("--ssl-certificate", default=None, metavar="FILE",
                     help="certificate (chain) in PEM form; the key may be in it too")
    tls.add_argument("--ssl-keyfile", default=None, metavar="FILE",
                     help="private key of the certificate in PEM form")
    tls.add_argument("--ssl-ca-file", default=None, metavar="FILE",
                     help="CA certificates loaded into the TLS context (as Rasa does)")
    tls.add_argument("--ssl-password", default=None, metavar="PASSWORD",
                     help="password of an encrypted key file")


def _add_syslog_arguments(parser: argparse.ArgumentParser) -> None:
    from dialogflowlite.server.syslog_logging import (
        DEFAULT_SYSLOG_ADDRESS,
        DEFAULT_SYSLOG_PORT,
        SYSLOG_PROTOCOLS,
    )

    syslog = parser.add_argument_group("syslog (the logs also go to a syslog server)")
    syslog.add_argument("--use-syslog", action="store_true",
                        help="send the logs to the syslog server below too")
    syslog.add_argument("--syslog-address", default=DEFAULT_SYSLOG_ADDRESS, metavar="HOST",
                        help=f"syslog server (default: {DEFAULT_SYSLOG_ADDRESS})")
    syslog.add_argument("--syslog-port", type=server_port, default=DEFAULT_SYSLOG_PORT,
                        help=f"its port (default: {DEFAULT_SYSLOG_PORT})")
    syslog.add_argument("--syslog-protocol", type=str.upper, choices=SYSLOG_PROTOCOLS,
                        default="UDP", help="UDP (default) or TCP")


def _add_action_server_arguments(parser: argparse.ArgumentParser) -> None:
    from dialogflowlite.cli.run_actions import DEFAULT_ACTIONS_MODULE

    actions = parser.add_argument_group(
        "action server (`run actions`: rasa-sdk, run in --project; it also takes --port, "
        "--cors, -i, --ssl-certificate, --ssl-keyfile, --ssl-password, --endpoints, and "
        "refuses the bot server's options)")
    actions.add_argument("--actions", default=None, metavar="MODULE",
                         help=f"module the actions are in (default: {DEFAULT_ACTIONS_MODULE})")
    actions.add_argument("--auto-reload", action="store_true",
                         help="reload the actions module when its files change")


def config_from_args(args: argparse.Namespace):
    """The :class:`~dialogflowlite.server.app.ServerConfig` the arguments describe."""
    from dialogflowlite.cli.logs import log_settings
    from dialogflowlite.server.app import ServerConfig

    syslog = None
    if args.use_syslog:
        syslog = (args.syslog_address, args.syslog_port, args.syslog_protocol)
    return ServerConfig(
        project=args.project, model_path=args.model, enable_api=args.enable_api,
        auth_token=args.auth_token or None, jwt_secret=args.jwt_secret or None,
        jwt_method=args.jwt_method, cors_origins=tuple(args.cors),
        max_message_chars=args.max_message_chars, webchat=not args.no_webchat,
        workers=args.workers, quantize=args.quantize, endpoints_file=args.endpoints,
        credentials_file=args.credentials,
        response_timeout=float(args.response_timeout), request_timeout=args.request_timeout,
        ssl_certificate=args.ssl_certificate, ssl_keyfile=args.ssl_keyfile,
        ssl_ca_file=args.ssl_ca_file, ssl_password=args.ssl_password,
        connector=args.connector, syslog=syslog,
        log_settings=log_settings(args))


def check_jwt_private_key(args: argparse.Namespace) -> None:
    """``--jwt-private-key``: Rasa passes it on with the public key; verifying needs only that."""
    if not args.jwt_private_key:
        return
    if not args.jwt_secret:
        raise ConfigError("--jwt-private-key was given without --jwt-secret",
                          hint="give the public key that API tokens are verified with as "
                               "--jwt-secret (with --jwt-method, for instance RS256)")
    logger.info("--jwt-private-key is not used: the server only verifies tokens, with the "
                "public key given as --jwt-secret")


def check_remote_storage(name: str | None) -> None:
    """``--remote-storage``: Rasa's cloud model storage is not built in; say what to use."""
    if not name:
        return
    raise ConfigError(f"--remote-storage {name}: loading models from cloud storage (aws, gcs, "
                      "azure) is not built into dialogflowlite",
                      hint="serve the model file over HTTP and name it in endpoints.yml "
                           "(`models:` with a `url:`; a presigned or public bucket URL works), "
                           "or copy the model file here and pass it with -m FILE")


def _option_names() -> tuple[dict[str, str], argparse.Namespace]:
    """Each option's destination -> its longest name, and the defaults of all of them."""
    parser = argparse.ArgumentParser(add_help=False)
    _add_arguments(parser)
    names = {action.dest: max(action.option_strings, key=len)
             for action in parser._actions if action.option_strings}
    return names, parser.parse_args([])


def given_options(args: argparse.Namespace, dests: list[str] | None = None) -> list[str]:
    """The names of the options (of ``dests``, else all) that ``args`` sets to other than
    their defaults."""
    names, defaults = _option_names()
    return [names[dest] for dest in names
            if (dests is None or dest in dests)
            and getattr(args, dest, None) != getattr(defaults, dest)]


def _action_server(args: argparse.Namespace) -> int:
    """``run actions``: refuse the bot server's options, then start rasa-sdk."""
    from dialogflowlite.cli.run_actions import (
        DEFAULT_ACTIONS_MODULE,
        DEFAULT_ACTIONS_PORT,
        ActionServerOptions,
        start_action_server,
    )
    from dialogflowlite.server.tls import check_tls_options

    names, _ = _option_names()
    server_only = given_options(args, [d for d in names if d not in ACTION_SERVER_OPTIONS])
    if server_only:
        # refused rather than ignored: a script that passes them expects them to matter
        raise ConfigError(f"`run actions` starts rasa-sdk's action server, which has no "
                          f"{', '.join(server_only)}",
                          hint=f"leave {'them' if len(server_only) > 1 else 'it'} out, or start "
                               "the bot with `dialogflowlite run`")
    if getattr(args, "logging_config_file", None):
        raise ConfigError("`run actions` cannot pass --logging-config-file on: rasa-sdk "
                          "versions differ in how they take a logging config",
                          hint="use --debug, --quiet or --log-file, or start "
                               "`python -m rasa_sdk` yourself with its own logging options")
    # rasa-sdk has no CA file option: --ssl-ca-file is among the refused ones above
    check_tls_options(args.ssl_certificate, args.ssl_keyfile, None, args.ssl_password)
    log_level = ("debug" if getattr(args, "debug", False)
                 else "quiet" if getattr(args, "quiet", False) else None)
    options = ActionServerOptions(
        actions=args.actions or DEFAULT_ACTIONS_MODULE,
        port=DEFAULT_ACTIONS_PORT if args.port is None else args.port,
        cors=tuple(args.cors), ssl_certificate=args.ssl_certificate,
        ssl_keyfile=args.ssl_keyfile, ssl_password=args.ssl_password,
        auto_reload=args.auto_reload, log_level=log_level,
        log_file=getattr(args, "log_file", None), host=args.host, endpoints=args.endpoints)
    return start_action_server(options, args.project)


def _part_after_cors(args: argparse.Namespace) -> None:
    """``run --cors '*' actions``: the origins took the word ``actions``; give it back."""
    if args.part is None and "actions" in args.cors:
        args.cors = [origin for origin in args.cors if origin != "actions"]
        args.part = "actions"


def _run(args: argparse.Namespace) -> int:
    from dialogflowlite.server.serve import DEFAULT_HOST, DEFAULT_PORT, serve

    _part_after_cors(args)
    if args.part == "actions":
        return _action_server(args)
    actions_only = given_options(args, list(ACTIONS_ONLY_OPTIONS))
    if actions_only:
        raise ConfigError(f"{', '.join(actions_only)} only apply to `dialogflowlite run "
                          "actions`", hint="start the action server with `dialogflowlite run "
                                           "actions`, or leave them out")
    check_remote_storage(args.remote_storage)
    check_jwt_private_key(args)
    host = args.host or DEFAULT_HOST
    port = DEFAULT_PORT if args.port is None else args.port
    # a port in use is a ConfigError of serve(), before it loads anything
    serve(config_from_args(args), host=host, port=port, workers=args.workers)
    return 0


COMMAND = Command("run", "serve the trained bot over HTTP (`run actions`: start rasa-sdk's "
                         "action server)", _add_arguments, _run,
                  description="Serve the newest model (or --model) with the channels of "
                              "credentials.yml (or only --connector), the web chat at /chat "
                              "and, with --enable-api, the HTTP API; over HTTPS with "
                              "--ssl-certificate. Conversations are kept in the tracker store "
                              "of endpoints.yml (default: trackers.db in the project). "
                              "`run actions` starts rasa-sdk's action server instead.")
