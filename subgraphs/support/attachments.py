"""Attachments: a presigned upload straight to storage, checked (size, declared type, first
bytes) when a ticket or comment takes it, and presigned downloads for those who may read it."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel import validation
from subgraphs.kernel.errors import ErrorCode, Rejected, checked, require
from subgraphs.kernel.outbox import stage_job
from subgraphs.kernel.storage import ObjectKey, Storage, Upload
from subgraphs.support.contract import SCAN_JOB, SupportErrorCode
from subgraphs.support.models import Attachment, ScanStatus

# The types a ticket accepts, with how their first bytes must start (None: text).
SIGNATURES: dict[str, tuple[bytes, ...] | None] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
    "text/plain": None,
    "text/csv": None,
}
# Text a browser would render as a page or a script, whatever the declared type says.
MARKUP = (b"<!doctype", b"<html", b"<script", b"<svg", b"<?xml", b"<body", b"<iframe")


@dataclass(frozen=True)
class RequestedUpload:
    attachment: Attachment
    upload: Upload


def object_key(attachment: Attachment) -> ObjectKey:
    return ObjectKey.of(attachment.org_id, "tickets", str(attachment.id))


def _file_name(value: str) -> str:
    name = validation.text(value, "fileName", max_length=255)
    require(
        "/" not in name and "\\" not in name,
        ErrorCode.INVALID_INPUT,
        "A file name, not a path.",
        "fileName",
    )
    return name


def _content_type(value: str) -> str:
    require(
        value in SIGNATURES,
        SupportErrorCode.ATTACHMENT_TYPE_NOT_ALLOWED,
        f"Attach one of: {', '.join(sorted(SIGNATURES))}.",
        "contentType",
    )
    return value


def _size(value: int, max_bytes: int) -> int:
    require(value > 0, ErrorCode.INVALID_INPUT, "An attachment has at least one byte.", "sizeBytes")
    require(
        value <= max_bytes,
        SupportErrorCode.ATTACHMENT_TOO_LARGE,
        f"Attachments are at most {max_bytes} bytes.",
        "sizeBytes",
    )
    return value


def new_attachment(
    org_id: UUID, uploader: UUID, file_name: str, content_type: str, size: int, max_bytes: int
) -> Attachment:
    """An attachment awaiting its upload; every problem with the request reported at once."""
    values = checked(
        file_name=lambda: _file_name(file_name),
        content_type=lambda: _content_type(content_type),
        size_bytes=lambda: _size(size, max_bytes),
    )
    return Attachment(org_id=org_id, uploader_id=uploader, **values)


def looks_like(content_type: str, data: bytes) -> bool:
    """Whether the bytes are what the declared type says (never markup in disguise)."""
    head = data[:512].lstrip().lower()
    if any(head.startswith(m) for m in MARKUP):
        return False
    signatures = SIGNATURES[content_type]
    if signatures is None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return b"\x00" not in data
    return data.startswith(signatures)


async def take(
    session: AsyncSession,
    storage: Storage,
    *,
    org_id: UUID,
    uploader: UUID,
    ids: list[UUID],
    ticket_id: UUID,
    comment_id: UUID | None,
    internal: bool,
    scanning: bool,
) -> list[Attachment]:
    """Attach the caller's uploaded attachments ``ids``: each must exist in the organization,
    be unattached, and be stored as declared; with ``scanning`` each waits for its scan."""
    ids = list(dict.fromkeys(ids))
    require(len(ids) <= 20, ErrorCode.INVALID_INPUT, "At most 20 attachments.", "attachmentIds")
    if not ids:
        return []
    rows = await session.exec(
        select(Attachment).where(col(Attachment.id).in_(ids)).with_for_update()
    )
    found = {
        a.id: a
        for a in rows
        if a.org_id == org_id and a.uploader_id == uploader and a.status == "requested"
    }
    require(len(found) == len(ids), ErrorCode.NOT_FOUND, "Unknown attachment.", "attachmentIds")
    for attachment in found.values():
        await _check_stored(storage, attachment)
        attachment.status = "uploaded"
        attachment.ticket_id, attachment.comment_id = ticket_id, comment_id
        attachment.internal = internal
        attachment.scan_status = (
            ScanStatus.PENDING_SCAN if scanning else ScanStatus.UNSCANNED
        ).value
        session.add(attachment)
        if scanning:
            await stage_job(
                session,
                SCAN_JOB,
                str(org_id),
                str(attachment.id),
                job_id=f"{SCAN_JOB}:{attachment.id}",
            )
    return list(found.values())


def downloadable(attachment: Attachment) -> bool:
    return attachment.scan_status in (ScanStatus.CLEAN.value, ScanStatus.UNSCANNED.value)


async def _check_stored(storage: Storage, attachment: Attachment) -> None:
    key = object_key(attachment)
    stored = await storage.stat(key)
    if stored is None:
        raise Rejected.one(
            SupportErrorCode.ATTACHMENT_NOT_UPLOADED,
            f"{attachment.file_name} was not uploaded.",
            "attachmentIds",
        )
    require(
        stored.size <= attachment.size_bytes,
        SupportErrorCode.ATTACHMENT_TOO_LARGE,
        f"{attachment.file_name} is larger than declared.",
        "attachmentIds",
    )
    data = await storage.read(key, attachment.size_bytes)
    if stored.content_type != attachment.content_type or not looks_like(
        attachment.content_type, data
    ):
        await storage.delete(key)
        raise Rejected.one(
            SupportErrorCode.ATTACHMENT_TYPE_NOT_ALLOWED,
            f"{attachment.file_name} is not the {attachment.content_type} it claims to be.",
            "attachmentIds",
        )
