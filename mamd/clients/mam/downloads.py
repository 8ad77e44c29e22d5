"""A torrent file from MAM, and the account's own page."""

from __future__ import annotations

from mamd.clients.errors import Rejected, Unavailable
from mamd.clients.mam.rows import parse_account
from mamd.clients.mam.session import SERVICE, MamSession
from mamd.domain.account import AccountSnapshot
from mamd.domain.torrentfile import TorrentError, TorrentMeta, parse_torrent


class Downloads(MamSession):
    """`.torrent` downloads and the account reading, as `MamClient` offers them."""

    async def download(self, mam_id: int, *, wedge: bool = False) -> tuple[bytes, TorrentMeta]:
        """The .torrent bytes, checked as bencode, with their v1 info-hash.

        `wedge` adds `fl=1`, which spends a freeleech wedge whatever the torrent is (even a free one): the
        rules decide it, never this client.
        """
        params = {"tid": str(mam_id), **({"fl": "1"} if wedge else {})}
        reply = await self._request("download", "GET", "/tor/download.php", params=params, expect="bytes")
        try:
            return reply.body, parse_torrent(reply.body)
        except TorrentError as exc:
            raise Rejected(SERVICE, f"MAM's torrent {mam_id} is not a valid .torrent: {exc}") from exc

    async def account(self) -> AccountSnapshot:
        reply = await self._request("account", "GET", "/jsonLoad.php", params={"snatch_summary": ""})
        if not isinstance(reply.data, dict):
            raise Unavailable(SERVICE, "the account answer is not a JSON object")
        return parse_account(reply.data, self._clock.now())
