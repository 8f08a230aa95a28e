"""`numecole`: run the platform, import data, issue development tokens."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from events.values import Role
from infra.audit_commands import add_audit_commands
from infra.auth import Principal
from infra.logs import configure_logging

if TYPE_CHECKING:
    from infra.errors import FieldError

SERVICES = {"declarations": 8001, "label": 8002, "reporting": 8003}
WORKERS = ("relay", "projector", "territories", "label-register")
log = structlog.get_logger("cli")


def cli_principal() -> Principal:
    """The person at the terminal acts as the académie admin, everywhere."""
    return Principal(f"cli:{getpass.getuser()}", Role.ADMIN, "*")


def _serve(name: str, host: str, port: int) -> None:
    import uvicorn

    from infra.settings import AuthSettings, DatabaseSettings

    db, auth = DatabaseSettings.from_env(), AuthSettings.from_env()
    if name == "declarations":
        from services.declarations.app import create_app as declarations_app

        app = declarations_app(db, auth)
    elif name == "label":
        from services.label.app import create_app as label_app

        app = label_app(db, auth)
    else:
        from services.reporting.app import create_app as reporting_app

        app = reporting_app(db, auth)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


async def _run_worker(name: str) -> None:
    from infra.relay import SOURCES, run_relay
    from infra.settings import DatabaseSettings, NatsSettings

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    db, nats = DatabaseSettings.from_env(), NatsSettings.from_env()
    if name == "relay":
        await run_relay(list(SOURCES.values()), db, nats, stop)
    elif name == "label-register":
        from services.label.register_consumer import RegisterConsumer

        await RegisterConsumer(db, nats).run(stop)
    elif name == "territories":
        from services.reporting.cell_projector import CellProjector

        await CellProjector(db, nats).run(stop)
    else:
        from services.reporting.projector import Projector

        await Projector(db, nats).run(stop)


def cmd_run(args: argparse.Namespace) -> int:
    configure_logging(args.component)
    if args.component in SERVICES:
        _serve(args.component, args.host, args.port or SERVICES[args.component])
    else:
        asyncio.run(_run_worker(args.component))
    return 0


def _declarations_app() -> object:
    from infra.settings import DatabaseSettings
    from services.declarations.app import open_application

    return open_application(DatabaseSettings.from_env(), pool_size=2)


def _with_servers(args: argparse.Namespace) -> None:
    """Point this process at the configured servers, or the embedded ones of the data dir."""
    from infra.platform import resolve_servers

    servers = resolve_servers(Path(args.data_dir) if args.data_dir else None)
    os.environ.update(servers.env())


def cmd_up(args: argparse.Namespace) -> int:
    from infra.embedded import port_is_free
    from infra.platform import resolve_servers

    configure_logging("up")
    # Checked before anything starts: a service that cannot listen would be restarted forever.
    busy = [
        f"{args.port_base + i} ({name})"
        for i, name in enumerate(SERVICES)
        if not port_is_free(args.port_base + i, args.host)
    ]
    if busy:
        print(
            f"Numécole ne peut pas démarrer : port déjà utilisé : {', '.join(busy)}. Arrêtez ce "
            "qui l'occupe, ou choisissez d'autres ports avec --port-base.",
            file=sys.stderr,
        )
        return 1
    servers = resolve_servers(Path(args.data_dir) if args.data_dir else None)
    env = {**os.environ, **servers.env()}
    os.environ.update(servers.env())
    if args.demo:
        from services.declarations.application import DeclarationsApplication
        from services.declarations.demo import load_demo

        app = _declarations_app()
        assert isinstance(app, DeclarationsApplication)
        loaded = load_demo(app)
        app.close()
        log.info("demo_loaded", schools_declared_now=loaded)
        from infra.settings import DatabaseSettings
        from services.label.demo import load_demo as load_label_demo

        labelled = load_label_demo(DatabaseSettings.from_env())
        log.info("label_demo_loaded", schools_with_label_activity_now=labelled)
    children: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(component: str) -> None:
        cmd = [sys.executable, "-m", "infra.cli", "run", component, "--host", args.host]
        if component in SERVICES:
            cmd += ["--port", str(args.port_base + list(SERVICES).index(component))]
        children[component] = subprocess.Popen(cmd, env=env)  # noqa: S603

    for component in (*SERVICES, *WORKERS):
        spawn(component)
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("\nNumécole est démarré :", flush=True)
    for i, name in enumerate(SERVICES):
        print(f"  {name:13} http://{args.host}:{args.port_base + i}  (OpenAPI : /schema)")
    print(f"  PostgreSQL    {servers.database_url}")
    print(f"  NATS          {servers.nats_url}")
    # A school of the demo register: the command works as printed once `--demo` has loaded.
    print("Jeton de test : numecole token --role directeur --scope 0340001S")
    if args.demo:
        print("Rejouer le passé : numecole replay --as-of 2024-03-01 --school 0340001S")
    print("Ctrl-C pour arrêter.\n", flush=True)
    try:
        while not stopping:
            time.sleep(0.5)
            for name, proc in list(children.items()):
                if proc.poll() is not None and not stopping:
                    log.warning("component_exited_restarting", component=name, code=proc.returncode)
                    time.sleep(1)
                    spawn(name)
    finally:
        for proc in children.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in children.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        servers.stop()
        print("Numécole est arrêté.", flush=True)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from infra.auth import SCOPES_BY_ROLE, TokenService
    from infra.platform import dev_key
    from infra.settings import AuthSettings, data_dir

    key = dev_key(Path(args.data_dir) if args.data_dir else data_dir())
    try:
        token = TokenService(AuthSettings(dev_key=key)).issue(
            args.user or f"{args.role}-{args.scope}", Role(args.role), args.scope, args.ttl
        )
    except ValueError:
        print(
            f"Périmètre « {args.scope} » invalide pour le rôle {args.role} : "
            f"attendu {SCOPES_BY_ROLE[Role(args.role)]}.",
            file=sys.stderr,
        )
        return 2
    print(token)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from infra.errors import InvalidInput
    from services.declarations.application import DeclarationsApplication
    from services.declarations.register_csv import parse_register

    configure_logging("import")
    data = _read(args.file)
    if data is None:
        return 1
    try:
        rows = parse_register(data)
    except InvalidInput as exc:
        _print_refusal(exc.errors)
        return 1
    if not os.environ.get("DATABASE_URL"):
        _with_servers(args)
    app = _declarations_app()
    assert isinstance(app, DeclarationsApplication)
    result = app.import_register(rows, cli_principal())
    app.close()
    print(
        f"Registre importé : {result.registered} nouvelle(s) école(s), {result.changed} "
        f"modifiée(s), {result.unchanged} inchangée(s)."
    )
    return 0


def _read(path: str) -> bytes | None:
    """The file's bytes; None, once the reason is said in French, when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        print(f"Fichier introuvable : {path}.")
    except IsADirectoryError:
        print(f"{path} est un dossier, pas un fichier.")
    except PermissionError:
        print(f"Lecture de {path} refusée : vérifiez ses droits d'accès.")
    except OSError as exc:
        log.warning("import_file_unreadable", path=path, error=str(exc))
        print(f"Fichier illisible : {path}.")
    return None


def _print_refusal(errors: Sequence[FieldError]) -> None:
    """A refused file's report: one line per broken rule, with its line number."""
    print(f"Fichier refusé ({len(errors)} erreur(s)), rien n'a été enregistré :")
    for e in errors:
        where = f"ligne {e.line}, " if e.line else ""
        print(f"  {where}{e.field} : {e.message}")


def cmd_import_data(args: argparse.Namespace) -> int:
    """`import ent FILE --period N --school-year Y`, `import gar FILE --school-year Y`."""
    from infra.errors import Forbidden, InvalidInput
    from services.declarations.application import DeclarationsApplication
    from services.declarations.data_imports import EntFile, GarFile, parse_ent, parse_gar

    configure_logging("import")
    data = _read(args.file)
    if data is None:
        return 1
    try:
        file: EntFile | GarFile = (
            parse_ent(data, args.period, args.school_year)
            if args.what == "ent"
            else parse_gar(data, args.school_year)
        )
    except InvalidInput as exc:
        _print_refusal(exc.errors)
        return 1
    if not os.environ.get("DATABASE_URL"):
        _with_servers(args)
    app = _declarations_app()
    assert isinstance(app, DeclarationsApplication)
    try:
        by = cli_principal()
        result = app.import_ent(file, by) if isinstance(file, EntFile) else app.import_gar(file, by)
    except InvalidInput as exc:
        _print_refusal(exc.errors)
        return 1
    except Forbidden as exc:
        print(f"Import refusé : {exc}")
        return 1
    finally:
        app.close()
    what = (
        f"Connexions ENT de la période {file.period} ({file.school_year}) importées"
        if isinstance(file, EntFile)
        else f"Accès GAR ({file.school_year}) importés"
    )
    print(f"{what} : {result.recorded} école(s) enregistrée(s), {result.unchanged} inchangée(s).")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="numecole", description="Numécole")
    p.add_argument("--data-dir", help="data directory of the embedded servers (default .numecole)")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole platform")
    up.add_argument("--demo", action="store_true", help="load the demo académie")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port-base", type=int, default=8001)
    up.set_defaults(func=cmd_up)
    run = sub.add_parser("run", help="run one component (used by `up`)")
    run.add_argument("component", choices=[*SERVICES, *WORKERS])
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int)
    run.set_defaults(func=cmd_run)
    token = sub.add_parser("token", help="print a development token")
    token.add_argument(
        "--role", required=True, choices=[r.value for r in Role if r is not Role.SYSTEME]
    )
    token.add_argument("--scope", required=True)
    token.add_argument("--user")
    token.add_argument("--ttl", type=int, default=8 * 3600)
    token.set_defaults(func=cmd_token)
    add_audit_commands(sub)
    imp = sub.add_parser("import", help="import data files")
    imp_sub = imp.add_subparsers(dest="what", required=True)
    register = imp_sub.add_parser("register", help="the school register (CSV)")
    register.add_argument("file")
    register.set_defaults(func=cmd_import)
    ent = imp_sub.add_parser("ent", help="ENT connections of one period (CSV)")
    ent.add_argument("file")
    ent.add_argument("--period", required=True, help="1 to 5")
    ent.add_argument("--school-year", required=True, help="e.g. 2024-2025")
    ent.set_defaults(func=cmd_import_data)
    gar = imp_sub.add_parser("gar", help="GAR accesses of one school year (CSV)")
    gar.add_argument("file")
    gar.add_argument("--school-year", required=True, help="e.g. 2024-2025")
    gar.set_defaults(func=cmd_import_data)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Logs go to stderr, whatever the command: what it prints (a profile, a token) may be piped.
    configure_logging(args.command)
    if getattr(args, "needs_servers", False) and not os.environ.get("DATABASE_URL"):
        _with_servers(args)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
