#!/usr/bin/env python3
"""Peer of `quotes` for bench/run: the aiohttp way of fetching many prices at once.

One aiohttp.ClientSession for the whole run, one task per ticker (asyncio.ensure_future),
all awaited together with asyncio.gather; then every ticker's price is printed, one
`TICKER PRICE` line each, in argument order.

    YAHOO_BASE=http://127.0.0.1:8080 python3 aiohttp_gather.py T0001 T0002

YAHOO_BASE: scheme, host and port of a server that speaks Yahoo's chart format (default:
Yahoo itself). HTTPS trusts the file in SSL_CERT_FILE when it is set (aiohttp's default
context is ssl.create_default_context(), which reads it).
"""
import asyncio
import os
import sys
from decimal import Decimal

import aiohttp

BASE = os.environ.get("YAHOO_BASE", "https://query1.finance.yahoo.com").rstrip("/")
CENT = Decimal("0.01")


async def chart(session, ticker):
    async with session.get(f"{BASE}/v8/finance/chart/{ticker}") as answer:
        return await answer.json()


async def main(tickers):
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.ensure_future(chart(session, t)) for t in tickers]
        return await asyncio.gather(*tasks)


if __name__ == "__main__":
    symbols = sys.argv[1:]
    if not symbols:
        sys.exit("usage: aiohttp_gather.py TICKER...")
    for symbol, body in zip(symbols, asyncio.run(main(symbols))):
        meta = body["chart"]["result"][0]["meta"]
        print(symbol, Decimal(meta["regularMarketPrice"]).quantize(CENT))
