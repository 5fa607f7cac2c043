"""Business rules of themes: an organization's draft, its contrast check and publication as
immutable versions, rollback, the public published theme, its stylesheet, assets and preview."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import Caller
from subgraphs.billing.contract import WHITE_LABEL
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.errors import ErrorCode, Rejected, checked, existing, require
from subgraphs.kernel.storage import ObjectKey, ObjectMissing, ObjectTooLarge, Storage, Upload
from subgraphs.notifications.contract import Branding, stage_branding
from subgraphs.themes import cache, colors, css, images, repository, tokens
from subgraphs.themes.contract import ThemesErrorCode
from subgraphs.themes.images import AssetKind
from subgraphs.themes.models import Asset, Draft, OrganizationSlug, Version
from subgraphs.themes.settings import Settings

MANAGERS = frozenset({"owner", "admin"})
MAX_VERSIONS_PAGE = 100
MAX_SLUG = 63
MAX_FILE = 4 * 1024 * 1024  # larger than any rendition


@dataclass(frozen=True)
class DraftChanges:
    """What ``updateThemeDraft`` may change; None keeps the draft's value."""

    light: dict[str, str] | None = None
    dark: dict[str, str] | None = None
    radius: int | None = None
    font_family: str | None = None
    appearance: str | None = None
    custom_css: str | None = None


def is_member(caller: Caller, org_id: UUID) -> bool:
    return caller.org_id == org_id and caller.is_authenticated


def manages(caller: Caller, org_id: UUID) -> bool:
    """Owners and admins of the organization; an API key needs ``themes:write``."""
    if caller.org_id != org_id:
        return False
    if caller.key_id is not None:
        return "themes:write" in caller.scopes
    return caller.user_id is not None and bool(caller.roles & MANAGERS)


def _custom_css_entitled(caller: Caller, custom_css: str, field: str | None = None) -> None:
    """Custom CSS (any but none) needs the plan's ``white_label``, as the caller's plan says."""
    require(
        not custom_css or caller.entitled(WHITE_LABEL),
        ThemesErrorCode.NOT_ENTITLED,
        'Custom CSS needs a plan with white_label; remove it (customCss: "") to go on.',
        field,
    )


def placement(asset: Asset) -> dict[str, Any]:
    """A ready asset as a theme's tokens hold it."""
    return {
        "id": str(asset.id),
        "width": asset.width,
        "height": asset.height,
        "content_type": asset.content_type,
    }


def _must_manage(caller: Caller, org_id: UUID) -> None:
    if not is_member(caller, org_id):
        raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown organization.", "organizationId")
    require(manages(caller, org_id), ErrorCode.FORBIDDEN, "Only owners and admins can do this.")


class ThemesService:
    def __init__(
        self,
        db: Database,
        redis: Redis,
        settings: Settings,
        storage: Storage | None,
        context_key: bytes,
    ) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings
        self.storage = storage
        self._bucket_ready = False
        self.public_url = settings.themes.themes_public_url.rstrip("/")
        self._preview_key = hmac.new(context_key, b"themes-preview", hashlib.sha256).digest()

    # drafts ------------------------------------------------------------------------------------

    def _edited(
        self, org_id: UUID, current: dict[str, Any], changes: DraftChanges
    ) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        if changes.light is not None:
            checks["light"] = lambda: tokens.chosen(changes.light or {}, "light")
        if changes.dark is not None:
            checks["dark"] = lambda: tokens.chosen(changes.dark or {}, "dark")
        if changes.radius is not None:
            checks["radius"] = lambda: tokens.radius(changes.radius or 0)
        if changes.font_family is not None:
            checks["font_family"] = lambda: tokens.font(changes.font_family or "")
        if changes.appearance is not None:
            checks["appearance"] = lambda: tokens.appearance(changes.appearance or "")
        if changes.custom_css is not None:
            checks["scoped_css"] = lambda: self._scoped(org_id, changes.custom_css or "")
        return current | checked(**checks)

    def _scoped(self, org_id: UUID, custom: str) -> str:
        """The sanitized custom CSS; any refused part rejects the whole change."""
        result = css.sanitize(custom, tokens.scope_class(org_id), self.public_url)
        if result.problems:
            raise Rejected(*(problem.as_problem() for problem in result.problems))
        return result.css

    async def _current_draft(
        self, session: AsyncSession, org_id: UUID, *, lock: bool = True
    ) -> Draft:
        """The draft, else one started from the live version, else from the defaults; with
        ``lock`` it is stored and locked, so concurrent first edits queue instead of colliding."""
        draft = await repository.draft(session, org_id, lock=lock)
        if draft is not None:
            return draft
        live = await repository.live_version(session, org_id)
        fresh = Draft(org_id=org_id, tokens=dict(tokens.DEFAULT_TOKENS))
        if live is not None:
            fresh = Draft(
                org_id=org_id,
                tokens=live.tokens,
                custom_css=live.custom_css,
                scoped_css=live.scoped_css,
                base_version=live.version,
            )
        if not lock:
            return fresh
        return await repository.stored_draft(session, fresh)

    async def update_draft(
        self, caller: Caller, org_id: UUID, changes: DraftChanges
    ) -> tokens.ThemeView:
        _must_manage(caller, org_id)
        _custom_css_entitled(caller, changes.custom_css or "", "customCss")
        async with self.db.transaction(caller) as session:
            draft = await self._current_draft(session, org_id)
            edited = self._edited(org_id, {**draft.tokens, "scoped_css": draft.scoped_css}, changes)
            draft.scoped_css = edited.pop("scoped_css")
            if changes.custom_css is not None:
                draft.custom_css = changes.custom_css
            draft.tokens = edited
            draft.updated_by, draft.updated_at = caller.user_id, utcnow()
            session.add(draft)
        return tokens.draft_view(draft)

    async def drafts(self, caller: Caller, org_ids: list[UUID]) -> list[tokens.ThemeView | None]:
        """Each organization's draft (its live theme when none is being edited); None unless
        the caller manages it."""
        found: list[tokens.ThemeView | None] = []
        for org_id in org_ids:
            if not manages(caller, org_id):
                found.append(None)
                continue
            async with self.db.transaction(caller) as session:
                found.append(
                    tokens.draft_view(await self._current_draft(session, org_id, lock=False))
                )
        return found

    # published versions ------------------------------------------------------------------------

    async def published(self, caller: Caller, org_ids: list[UUID]) -> list[tokens.ThemeView | None]:
        """Each organization's live theme; None for non-members or before the first publish."""
        found: list[tokens.ThemeView | None] = []
        for org_id in org_ids:
            live = await self._live(org_id) if is_member(caller, org_id) else None
            found.append(tokens.version_view(live) if live else None)
        return found

    async def _live(self, org_id: UUID) -> Version | None:
        """The organization's live version, from the cache while no publication or plan change
        changed it; its custom CSS withheld (not in its stylesheet) while the plan lacks
        ``white_label``."""

        async def load() -> dict[str, Any] | None:
            async with self.db.transaction(Caller(org_id=org_id)) as session:
                live = await repository.live_version(session, org_id)
                if live and live.scoped_css and not await repository.white_label(session, org_id):
                    live = live.model_copy(update={"scoped_css": ""})
            return live.model_dump(mode="json") if live else None

        key, generation = cache.live_key(org_id), cache.live_generation(org_id)
        found = await cache.read(self.redis, key, generation, load)
        return Version.model_validate(found) if found else None

    async def _published_changed(self, org_id: UUID) -> None:
        await cache.bump(self.redis, cache.live_generation(org_id), cache.live_key(org_id))

    async def versions(self, caller: Caller, org_id: UUID, first: int) -> list[tokens.ThemeView]:
        """The newest ``first`` versions; empty unless the caller manages the organization."""
        if not manages(caller, org_id):
            return []
        async with self.db.transaction(caller) as session:
            rows = await repository.versions(session, org_id, min(max(first, 0), MAX_VERSIONS_PAGE))
            return [tokens.version_view(r) for r in rows]

    async def themes(self, caller: Caller, ids: list[str]) -> list[tokens.ThemeView | None]:
        """Themes by id (``<org>:draft`` or ``<org>:<version>``), as their readers may see them."""
        found: list[tokens.ThemeView | None] = []
        for theme_id in ids:
            org, _, which = theme_id.partition(":")
            try:
                org_id = UUID(org)
            except ValueError:
                found.append(None)
                continue
            if which == "draft":
                found.extend(await self.drafts(caller, [org_id]))
            elif which.isdigit() and is_member(caller, org_id):
                async with self.db.transaction(caller) as session:
                    row = await session.get(Version, (org_id, int(which)))
                found.append(tokens.version_view(row) if row else None)
            else:
                found.append(None)
        return found

    async def publish(
        self, caller: Caller, org_id: UUID, expected_version: int, accept_low_contrast: bool
    ) -> tokens.ThemeView:
        """Snapshot the draft as the next version, if ``expected_version`` is still the live one."""
        _must_manage(caller, org_id)
        async with self._publication(caller) as session:
            live = await self._locked_live(session, org_id, expected_version)
            draft = await repository.draft(session, org_id, lock=True)
            if draft is None or (
                live is not None
                and (draft.tokens, draft.scoped_css) == (live.tokens, live.scoped_css)
            ):
                raise Rejected.one(ThemesErrorCode.NOTHING_TO_PUBLISH, "The draft has no changes.")
            # Written while the plan had white_label, it is not published after a downgrade.
            _custom_css_entitled(caller, draft.scoped_css)
            candidate = tokens.draft_view(draft)
            accepted = self._contrast_accepted(caller, candidate, accept_low_contrast)
            row = self._version(candidate, draft.scoped_css, expected_version + 1, caller, accepted)
            session.add(row)
            draft.base_version = row.version
            session.add(draft)
            await self._announce(session, caller, row)
        await self._published_changed(org_id)
        return tokens.version_view(row)

    async def rollback(self, caller: Caller, org_id: UUID, version: int) -> tokens.ThemeView:
        """Publish an old version again, as the next version; the draft becomes that theme."""
        _must_manage(caller, org_id)
        async with self._publication(caller) as session:
            old = existing(await session.get(Version, (org_id, version)), "version")
            _custom_css_entitled(caller, old.scoped_css)
            live = await repository.live_version(session, org_id)
            number = (live.version if live else 0) + 1
            await self._locked_live(session, org_id, number - 1)
            row = self._version(
                tokens.version_view(old), old.scoped_css, number, caller, old.accepted_low_contrast
            )
            row.rolled_back_from = version
            session.add(row)
            await repository.delete_draft(session, org_id)
            await self._announce(session, caller, row)
        await self._published_changed(org_id)
        return tokens.version_view(row)

    async def _announce(self, session: AsyncSession, caller: Caller, row: Version) -> None:
        """Tell notifications what its emails show of this version, once it is committed: the
        light colors, the logo, the organization's name as footer name (its slug when tenancy
        sent no name) and, from the publisher's plan, whether to leave out "powered by". The logo
        is its PNG, an SVG's too: Gmail and Outlook show no SVG."""
        view = tokens.version_view(row)
        logo = self.logo_url(view, images.EMAIL_LOGO)
        known = await session.get(OrganizationSlug, row.org_id)
        branding = Branding(
            version=row.version,
            colors=view.light.as_dict(),
            logo_url=self.absolute(logo) if logo else None,
            name=(known.name or known.slug) if known else None,
            white_label=caller.entitled(WHITE_LABEL),
        )
        await stage_branding(session, row.org_id, branding)

    def absolute(self, url: str) -> str:
        """``url`` as an email (read away from the platform) must name it."""
        if url.startswith(("http://", "https://")):
            return url
        return self.settings.core.public_url.rstrip("/") + url

    @asynccontextmanager
    async def _publication(self, caller: Caller) -> AsyncIterator[AsyncSession]:
        """A transaction that publishes; the first two publications of an organization race
        on its first version's key, and the loser is told to reload."""
        try:
            async with self.db.transaction(caller) as session:
                yield session
        except IntegrityError:
            raise Rejected.one(
                ThemesErrorCode.VERSION_CONFLICT, "Another publication won; reload."
            ) from None

    async def _locked_live(
        self, session: AsyncSession, org_id: UUID, expected: int
    ) -> Version | None:
        # Publications of one organization queue here, so two cannot both see ``expected``.
        await repository.lock_publications(session, org_id)
        live = await repository.live_version(session, org_id)
        if (live.version if live else 0) != expected:
            raise Rejected.one(
                ThemesErrorCode.VERSION_CONFLICT,
                f"Version {live.version if live else 0} is live now, not {expected}; reload.",
                "expectedVersion",
            )
        return live

    @staticmethod
    def _contrast_accepted(caller: Caller, candidate: tokens.ThemeView, accept: bool) -> bool:
        failing = [c for c in candidate.contrast if not c.passes]
        if not failing:
            return False
        if accept and "owner" in caller.roles and caller.key_id is None:
            return True
        worst = min(failing, key=lambda c: c.ratio)
        raise Rejected.one(
            ThemesErrorCode.CONTRAST_TOO_LOW,
            f"{len(failing)} pairs fail, {worst.pair} at {worst.ratio} (needs {worst.required});"
            " an owner may publish anyway with acceptLowContrast.",
        )

    @staticmethod
    def _version(
        candidate: tokens.ThemeView, scoped_css: str, number: int, caller: Caller, accepted: bool
    ) -> Version:
        return Version(
            org_id=candidate.org_id,
            version=number,
            tokens=candidate.tokens,
            custom_css=candidate.custom_css,
            scoped_css=scoped_css,
            css=candidate.css,
            css_hash=candidate.css_hash,
            accepted_low_contrast=accepted,
            published_by=caller.user_id,
        )

    # the public side ---------------------------------------------------------------------------

    async def by_slug(self, slug: str) -> tokens.ThemeView | None:
        """The live theme of the organization with ``slug``; never a draft."""
        org_id = await self._slug_owner(slug)
        live = await self._live(org_id) if org_id else None
        return tokens.version_view(live) if live else None

    async def _slug_owner(self, slug: str) -> UUID | None:
        if len(slug) > MAX_SLUG:  # none is recorded, and such a key is not worth caching
            return None

        async def load() -> str | None:
            async with self.db.transaction(Caller()) as session:
                known = await repository.slug_owner(session, slug)
            return str(known.org_id) if known else None

        found = await cache.read(self.redis, cache.slug_key(slug), cache.SLUG_GENERATION, load)
        return UUID(found) if found else None

    async def set_slug(
        self, org_id: UUID, slug: str | None, as_of: datetime, name: str | None = None
    ) -> None:
        """Record tenancy's announcement (the slug and the organization's name); an older one
        than what is known changes nothing."""
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            known = await repository.locked_slug(session, org_id)
            if known is not None and known.as_of >= as_of:
                return
            if slug is None:
                await repository.forget_slug(session, org_id)
            else:
                await repository.record_slug(session, org_id, slug, as_of, name)
        # Slugs change rarely: one generation for all of them is enough.
        await cache.bump(self.redis, cache.SLUG_GENERATION)

    def css_url(self, theme: tokens.ThemeView) -> str:
        return f"{self.public_url}/css/{theme.org_id}/{theme.css_hash}.css"

    async def set_white_label(self, org_id: UUID, enabled: bool, as_of: datetime) -> None:
        """Record billing's word on ``white_label`` (an older one than what is known changes
        nothing); readers get the live theme with or without its custom CSS at once."""
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            await repository.record_white_label(session, org_id, enabled, as_of)
        await self._published_changed(org_id)

    async def stylesheet(self, org_id: UUID, css_hash: str) -> str | None:
        """A published (or draft) stylesheet by its hash, from the cache while no publication or
        plan change changed the organization's; one with custom CSS only while the plan grants
        ``white_label``."""

        async def load() -> str | None:
            live = await self._live(org_id)
            view = tokens.version_view(live) if live else None
            if view and view.css_hash == css_hash:
                return view.css
            async with self.db.transaction(Caller(org_id=org_id)) as session:
                entitled = await repository.white_label(session, org_id)
                found = await repository.published_css(
                    session, org_id, css_hash, with_custom=entitled
                )
                draft = None if found else await session.get(Draft, org_id)
                if draft is not None and (entitled or not draft.scoped_css):
                    candidate = tokens.draft_view(draft)
                    found = candidate.css if candidate.css_hash == css_hash else None
            return found

        generation = cache.live_generation(org_id)
        found: str | None = await cache.read(
            self.redis, cache.stylesheet_key(org_id, css_hash), generation, load
        )
        return found

    # assets ------------------------------------------------------------------------------------

    def _store(self) -> Storage:
        if self.storage is None:
            raise RuntimeError("theme assets need object storage: set MINIO_ENDPOINT")
        return self.storage

    async def request_upload(
        self, caller: Caller, org_id: UUID, kind: AssetKind, content_type: str, size: int
    ) -> tuple[Asset, Upload]:
        _must_manage(caller, org_id)
        limit = images.MAX_BYTES[kind]
        checked(
            content_type=lambda: images.allowed_type(content_type, kind),
            size=lambda: require(
                0 < size <= limit,
                ThemesErrorCode.ASSET_TOO_LARGE,
                f"A {kind.value} may have at most {limit} bytes.",
                "sizeBytes",
            ),
        )
        asset = Asset(
            id=uuid4(),
            org_id=org_id,
            kind=kind.value,
            content_type=content_type,
            size_bytes=size,
            created_by=caller.user_id,
        )
        store = self._store()
        if not self._bucket_ready:
            # Uploads go straight to storage, so its bucket must exist before the first one.
            await store.ensure_bucket()
            self._bucket_ready = True
        upload = store.presign_upload(
            self._upload_key(asset), content_type=content_type, max_bytes=limit
        )
        async with self.db.transaction(caller) as session:
            session.add(asset)
        return asset, upload

    @staticmethod
    def _upload_key(asset: Asset) -> ObjectKey:
        return ObjectKey.of(asset.org_id, "themes", "uploads", str(asset.id))

    @staticmethod
    def _file_key(org_id: UUID, asset_id: UUID, name: str) -> ObjectKey:
        return ObjectKey.of(org_id, "themes", "assets", str(asset_id), name)

    async def complete_upload(self, caller: Caller, asset_id: UUID) -> Asset:
        """Check and re-encode the uploaded file, then put it in the draft."""
        async with self.db.transaction(caller) as session:
            asset = await session.get(Asset, asset_id)
        asset = existing(asset if asset and manages(caller, asset.org_id) else None, "asset")
        if asset.status == "ready":
            return asset
        kind = AssetKind(asset.kind)
        store = self._store()
        try:
            data = await store.read(self._upload_key(asset), images.MAX_BYTES[kind])
        except ObjectMissing:
            raise Rejected.one(
                ErrorCode.NOT_FOUND, "Nothing was uploaded for this asset."
            ) from None
        except ObjectTooLarge:
            raise Rejected.one(
                ThemesErrorCode.ASSET_TOO_LARGE, "The upload is too large."
            ) from None
        # Up to seconds of decoding, cleaning or drawing: off the event loop.
        files = await asyncio.to_thread(images.processed, data, asset.content_type, kind)
        for file in files:
            key = self._file_key(asset.org_id, asset.id, file.name)
            await store.put(key, file.data, content_type=file.content_type)
        async with self.db.transaction(caller) as session:
            asset.status, asset.width, asset.height = "ready", files[0].width, files[0].height
            session.add(asset)
            draft = await self._current_draft(session, asset.org_id)
            placed = placement(asset)
            if kind is AssetKind.LOGO:
                # An SVG's colors are read from the PNG drawn from it.
                drawn = next(file for file in files if not file.is_vector)
                placed["palette"] = asdict(colors.suggested(*images.prominent_colors(drawn.data)))
            assets = {**draft.tokens.get("assets", {}), kind.value: placed}
            draft.tokens = {**draft.tokens, "assets": assets}
            session.add(draft)
        await store.delete(self._upload_key(asset))
        return asset

    def asset_url(self, org_id: UUID, asset_id: str, name: str) -> str:
        return f"{self.public_url}/files/{org_id}/{asset_id}/{name}"

    def asset_urls(self, org_id: UUID, kind: AssetKind, placed: dict[str, Any]) -> dict[str, str]:
        """Each file of an asset as a theme holds it, by name; the first is its main file.
        Assets placed before SVG was accepted hold no content type: they are rasters."""
        names = images.file_names(kind, placed.get("content_type", ""))
        return {name: self.asset_url(org_id, placed["id"], name) for name in names}

    def logo_url(self, theme: tokens.ThemeView, name: str | None = None) -> str | None:
        """The logo's file ``name``, else its main file (logo.svg for an SVG, which pages show)."""
        logo = theme.assets.get(AssetKind.LOGO.value)
        if logo is None:
            return None
        urls = self.asset_urls(theme.org_id, AssetKind.LOGO, logo)
        return urls[name] if name else next(iter(urls.values()))

    async def asset_file(self, org_id: UUID, asset_id: UUID, name: str) -> images.Rendition | None:
        """One file of a ready asset (any organization's: asset ids are not guessable)."""
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            asset = await session.get(Asset, asset_id)
        if asset is None or asset.status != "ready":
            return None
        if name not in images.file_names(AssetKind(asset.kind), asset.content_type):
            return None
        try:
            data = await self._store().read(self._file_key(org_id, asset_id, name), MAX_FILE)
        except ObjectMissing:
            return None
        return images.Rendition(name, data, 0, 0)

    # preview -----------------------------------------------------------------------------------

    def _preview_mac(self, org_id: UUID, expires: int) -> str:
        return hmac.new(
            self._preview_key, f"{org_id}.{expires}".encode(), hashlib.sha256
        ).hexdigest()

    def preview_url(self, org_id: UUID) -> str:
        expires = int(time.time()) + self.settings.themes.themes_preview_ttl_seconds
        token = f"{expires}.{self._preview_mac(org_id, expires)}"
        return f"{self.public_url}/preview/{org_id}?token={token}"

    async def preview(self, org_id: UUID, token: str) -> tokens.ThemeView | None:
        """The draft a preview link shows, while the link is valid and for its organization."""
        expires, _, mac = token.partition(".")
        if not expires.isdigit() or int(expires) < time.time():
            return None
        if not hmac.compare_digest(mac, self._preview_mac(org_id, int(expires))):
            return None
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            return tokens.draft_view(await self._current_draft(session, org_id, lock=False))
