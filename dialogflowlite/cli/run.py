"""``dialogflowlite run``: serve the trained bot over HTTP (channels, web chat, API)."""

from __future__ import annotations

import argparse
import os

from dialogflowlite.cli.command import Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from dialogflowlite.server.serve import DEFAULT_HOST, DEFAULT_PORT

    parser.add_argument("--project", default=".", help="project folder (default: .)")
    parser.add_argument("-m", "--model", default=None,
                        help="model file or folder of models (default: the newest under "
                             "models/ that has dialogue policies)")
    parser.add_argument("--endpoints", default=None, metavar="FILE",
                        help="endpoints file (default: endpoints.yml of the project)")
    parser.add_argument("--credentials", default=None, metavar="FILE",
                        help="channel credentials file (default: credentials.yml of the project)")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address (default: {DEFAULT_HOST})")
    parser.add_argument("--port", "-p", type=int, default=DEFAULT_PORT,
                        help=f"port (default: {DEFAULT_PORT})")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes; several need a shared tracker store (default: 1)")
    parser.add_argument("--enable-api", action="store_true",
                        help="serve the HTTP API (/model/*, /conversations/*, /domain, /status)")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--auth-token", default=os.environ.get("DFL_AUTH_TOKEN"),
                      help="token the API and /metrics require (?token=... or Bearer); "
                           "default: $DFL_AUTH_TOKEN")
    auth.add_argument("--jwt-secret", default=os.environ.get("DFL_JWT_SECRET"),
                      help="secret (or public key) that API JWTs are verified with; "
                           "default: $DFL_JWT_SECRET")
    parser.add_argument("--jwt-method", default="HS256", help="JWT algorithm (default: HS256)")
    parser.add_argument("--cors", action="append", default=[], metavar="ORIGIN",
                        help="allow browser pages from ORIGIN (repeatable; '*' for any)")
    parser.add_argument("--max-message-chars", type=int, default=5000,
                        help="longest user message accepted (default: 5000)")
    parser.add_argument("--no-webchat", action="store_true", help="do not serve /chat")
    parser.add_argument("--quantize", action="store_true",
                        help="load transformer NLU models with int8 weights (faster on CPU)")


def config_from_args(args: argparse.Namespace):
    """The :class:`~dialogflowlite.server.app.ServerConfig` the arguments describe."""
    from dialogflowlite.server.app import ServerConfig

    return ServerConfig(
        project=args.project, model_path=args.model, enable_api=args.enable_api,
        auth_token=args.auth_token or None, jwt_secret=args.jwt_secret or None,
        jwt_method=args.jwt_method, cors_origins=tuple(args.cors),
        max_message_chars=args.max_message_chars, webchat=not args.no_webchat,
        workers=args.workers, quantize=args.quantize, endpoints_file=args.endpoints,
        credentials_file=args.credentials)


def _run(args: argparse.Namespace) -> int:
    from dialogflowlite.server.serve import serve

    serve(config_from_args(args), host=args.host, port=args.port, workers=args.workers)
    return 0


COMMAND = Command("run", "serve the trained bot over HTTP", _add_arguments, _run,
                  description="Serve the newest model (or --model) with the channels of "
                              "credentials.yml, the web chat at /chat and, with --enable-api, "
                              "the HTTP API. Conversations are kept in the tracker store of "
                              "endpoints.yml (default: trackers.db in the project).")
