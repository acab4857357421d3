"""suggest serve: the editor's page and JSON API on this machine."""

from __future__ import annotations

import re
import socket
from typing import Annotated

import typer

from suggest.cli import app
from suggest.cli.common import (
    ArchiveOpt,
    IndexOpt,
    QuietOpt,
    SemanticOpt,
    default_archive,
    err,
    notifier,
    semantic_choice,
    user_errors,
)
from suggest.errors import OptionError, SuggestError

_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def check_host(host: str) -> None:
    """An IP address or a host name, else `OptionError`."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.match(host):
            raise OptionError(f"--host {host!r}: not an IP address or host name; use e.g. 127.0.0.1") from None


@app.command("serve")
def serve(
    archive: ArchiveOpt = None,
    index_dir: IndexOpt = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but 127.0.0.1/localhost warns.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    semantic: SemanticOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Serve the editor's page (paste a draft, see its list, give feedback, triage the backlog)
    and the JSON API for a CMS, until Ctrl+C. Feedback is kept beside the index.

    Example: suggest serve --archive corpus --port 8000
    """
    with user_errors():
        try:
            import uvicorn

            from suggest.serve.app import LOOPBACK, create_app
        except ImportError as exc:
            raise SuggestError(
                f"suggest serve needs the serve extra ({exc.name} is missing): pip install 'suggest[serve]'"
            ) from None
        check_host(host)
        loopback = host in LOOPBACK
        if not loopback:
            err(
                f"warning: listening on {host}: other machines can reach the page and the API, which have no login; "
                "use --host 127.0.0.1 unless you mean it"
            )
        sock = listen(host, port)  # a taken port is said before the index is opened
        try:
            web = create_app(
                archive or default_archive(),
                index_dir,
                semantic=semantic_choice(semantic),
                notify=notifier(quiet),
                allowed_hosts=[*LOOPBACK, "[::1]"] if loopback else None,
            )
        except BaseException:
            sock.close()
            raise
        shown = f"[{host}]" if ":" in host else host
        err(f"serving {web.state.suggest.name} at http://{shown}:{port}/ (Ctrl+C stops)", quiet)
        try:
            uvicorn.Server(uvicorn.Config(web, log_level="warning", server_header=False)).run(sockets=[sock])
        except KeyboardInterrupt:  # Ctrl+C is how it stops: uvicorn has shut down, not an error
            err("stopped", quiet)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` and listening, or one `SuggestError` line (the port is
    taken, the address is not this machine's)."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise SuggestError(f"--host {host}: {exc.strerror or exc}; use e.g. 127.0.0.1") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise SuggestError(
            f"{host}:{port}: cannot listen there ({exc.strerror}); pick another --port or --host"
        ) from None
    return sock
