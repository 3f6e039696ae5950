"""Command line: `python -m chalicelib.cli <command>`.

  migrate                                   create or migrate the tables (idempotent)
  create-workspace --workspace W [--name N] [--language ru|en]
  create-api-key --workspace W --role R [--name N]   prints only the key
  add-member --workspace W --email E --role R      a user (e.g. the first admin in AWS)
  create-channel --workspace W --kind K --name N [--credential key=value ...] [--no-register]
  reseal-secrets                            seal every stored secret under the current key (docs/DEPLOY.md)
  reindex-search --workspace W              index the workspace's whole history for full-text search again
  export --workspace W [--output FILE]      the whole workspace as JSON lines, with files (I2)
  import --input FILE                       restore an export into a stack without that workspace
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from chalicelib.auth.keys import create_api_key
from chalicelib.auth.permissions import ROLES
from chalicelib.errors import AppError
from chalicelib.services import channels
from chalicelib.services.deps import deps
from chalicelib.settings import Settings
from chalicelib.store import repo, schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description="Zabota administration")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or migrate the tables")
    ws = sub.add_parser("create-workspace", help="create a workspace (brand)")
    ws.add_argument("--workspace", required=True)
    ws.add_argument("--name")
    ws.add_argument("--language", default="ru", choices=["ru", "en"])
    key = sub.add_parser("create-api-key", help="print a new API key")
    key.add_argument("--workspace", required=True)
    key.add_argument("--role", required=True, choices=ROLES)
    key.add_argument("--name", default="cli")
    member = sub.add_parser("add-member", help="add a user (by e-mail) with a role, e.g. the first admin")
    member.add_argument("--workspace", required=True)
    member.add_argument("--email", required=True)
    member.add_argument("--role", required=True, choices=ROLES)
    member.add_argument("--name", default="")
    ch = sub.add_parser("create-channel", help="connect a channel")
    ch.add_argument("--workspace", required=True)
    ch.add_argument("--kind", required=True)
    ch.add_argument("--name", required=True)
    ch.add_argument("--credential", action="append", default=[], metavar="KEY=VALUE")
    ch.add_argument("--no-register", action="store_true", help="do not register the webhook with the provider")
    sub.add_parser("reseal-secrets", help="seal every channel and webhook secret under the current key (one Scan)")
    again = sub.add_parser("reindex-search", help="index a workspace's whole history for full-text search again")
    again.add_argument("--workspace", required=True)
    exp = sub.add_parser("export", help="export a workspace (JSON lines, with its files)")
    exp.add_argument("--workspace", required=True)
    exp.add_argument("--output", default="-", help="a file (default: standard output)")
    imp = sub.add_parser("import", help="import an export into a stack that does not hold that workspace")
    imp.add_argument("--input", required=True)
    args = parser.parse_args(argv)
    if "MAIN_TABLE" not in os.environ:  # a laptop shell: talk to the embedded stack that `make run` started
        from chalicelib.local import env

        env.apply(env.embedded_environ(port=int(os.environ.get("PORT", "8000")),
                                       ddb_port=int(os.environ.get("DDB_PORT", "0") or 0)
                                       or int(os.environ.get("PORT", "8000")) + 1,
                                       data_dir=os.environ.get("DATA_DIR", ".data")))
    d = deps()
    try:
        if args.command == "migrate":
            for change in schema.migrate(d.settings) or ["tables are up to date"]:
                print(change)
        elif args.command == "create-workspace":
            created = repo.put_workspace(args.workspace, args.name or args.workspace, language=args.language,
                                         now=d.now())
            print("created" if created else "exists")
        elif args.command == "create-api-key":
            print(create_api_key(args.workspace, args.role, name=args.name, now=d.now()))
        elif args.command == "add-member":
            from chalicelib.services.team import ensure_member

            if repo.get_workspace(args.workspace) is None:
                raise AppError(f"workspace {args.workspace!r} does not exist")
            found = ensure_member(args.workspace, args.email, args.role, now=d.now(), name=args.name)
            print(f"{found.user_id} is {found.role} of {args.workspace}")
        elif args.command == "create-channel":
            creds = dict(c.split("=", 1) for c in args.credential)
            if repo.get_workspace(args.workspace) is None:
                raise AppError(f"workspace {args.workspace!r} does not exist")
            channel = channels.create_channel(d, args.workspace, args.kind, args.name, creds,
                                              register=not args.no_register)
            print(channel.id)
            print(channels.webhook_url(d, channel), file=sys.stderr)
        elif args.command == "reseal-secrets":
            counts = reseal_secrets(d.settings)
            print(f"resealed {counts['resealed']}, already current {counts['current']}")
        elif args.command == "reindex-search":
            from chalicelib.services import search

            if repo.get_workspace(args.workspace) is None:
                raise AppError(f"workspace {args.workspace!r} does not exist")
            print(f"{search.reindex_workspace(d, args.workspace)} documents indexed")
        elif args.command == "export":
            summary = _export(d, args.workspace, args.output)
            print(f"exported {summary.items} items, {summary.users} users, {summary.files} files "
                  f"({summary.bytes:,} bytes)", file=sys.stderr)
        elif args.command == "import":
            from chalicelib.domain.model import new_id
            from chalicelib.store import backup

            with open(args.input, encoding="utf-8", newline="\n") as probe:  # a missing file: one clear line
                probe.read(1)
            summary = backup.import_workspace(lambda: open(args.input, encoding="utf-8", newline="\n"),
                                              files=d.files, restore_id=new_id("restore", d.now()),
                                              progress=_bar("importing"))
            print(f"imported workspace {summary.workspace_id}: {summary.items} items, {summary.users} users, "
                  f"{summary.files} files")
    except OSError as err:
        print(f"error: {err.strerror or err}: {getattr(err, 'filename', '') or ''}", file=sys.stderr)
        return 2
    except AppError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - a CLI answers with one line, not a traceback
        from botocore.exceptions import EndpointConnectionError

        if isinstance(err, EndpointConnectionError):
            print("error: DynamoDB is not reachable; start `make run` first (or set AWS_ENDPOINT_URL_DYNAMODB)",
                  file=sys.stderr)
            return 1
        raise
    return 0


# item attribute holding a sealed blob -> the attribute that is its sealing context (store/repo.py, store/hooks.py)
SEALED = {"secrets_sealed": "pk", "secret_sealed": "hook_id"}


def reseal_secrets(settings: Settings) -> dict[str, int]:
    """Open every sealed blob of the main table (one Scan, an admin's one-off) and seal it again under the current
    key; each write is conditional on the blob it replaces. After it, nothing needs SECRETS_KMS_KEY_ARN."""
    import boto3

    from chalicelib.store.secrets import box

    client = boto3.client("dynamodb", region_name=settings.region)
    current = box().wrapper
    counts = {"resealed": 0, "current": 0}
    pages = client.get_paginator("scan").paginate(
        TableName=settings.main_table, ProjectionExpression="pk, sk, hook_id, secrets_sealed, secret_sealed",
        FilterExpression="attribute_exists(secrets_sealed) OR attribute_exists(secret_sealed)")
    for page in pages:
        for item in page["Items"]:
            for attribute, context_of in SEALED.items():
                blob = item.get(attribute, {}).get("S")
                if not blob:
                    continue
                if box().sealed_by(blob) == current:
                    counts["current"] += 1
                    continue
                context = item[context_of]["S"]
                fresh = box().seal(box().open(blob, context=context), context=context)
                client.update_item(TableName=settings.main_table, Key={"pk": item["pk"], "sk": item["sk"]},
                                   UpdateExpression="SET #a = :new", ConditionExpression="#a = :old",
                                   ExpressionAttributeNames={"#a": attribute},
                                   ExpressionAttributeValues={":new": {"S": fresh}, ":old": {"S": blob}})
                counts["resealed"] += 1
    return counts
def _bar(label: str) -> Callable[[int, int | None], None]:
    """A progress bar on standard error (a count while the total is not known yet)."""
    def show(done: int, total: int | None) -> None:
        if total:
            filled = int(30 * done / total) if total else 30
            line = f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,}"
        else:
            line = f"\r{label} {done:,} items"
        sys.stderr.write(line + ("\n" if total and done >= total else ""))
        sys.stderr.flush()

    return show


def _export(d: Any, ws: str, output: str) -> Any:
    from chalicelib.store import backup

    if output == "-":
        return backup.export_workspace(ws, sys.stdout, files=d.files, now=d.now(), progress=_bar("exporting"))
    tmp = output + ".part"  # a failed export leaves no file that looks whole
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        summary = backup.export_workspace(ws, out, files=d.files, now=d.now(), progress=_bar("exporting"))
    os.replace(tmp, output)
    return summary


if __name__ == "__main__":
    sys.exit(main())
