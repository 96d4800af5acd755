#!/usr/bin/env python3
"""Peer of `quotes` for bench/run: the httpx way of fetching many prices at once.

One httpx.AsyncClient for the whole run, and one coroutine per ticker, all started together
with asyncio.gather, as the common asyncio tutorials write it. Each coroutine reports its
request and its answer on stdout unless QUIET=1 (bench/run sets it); then every ticker's
price is printed, one `TICKER PRICE` line each, in argument order.

    YAHOO_BASE=http://127.0.0.1:8080 QUIET=1 python3 httpx_gather.py T0001 T0002

YAHOO_BASE: scheme, host and port of a server that speaks Yahoo's chart format (default:
Yahoo itself). HTTPS trusts the file in SSL_CERT_FILE when it is set.
"""
import asyncio
import os
import sys
from decimal import Decimal

import httpx

BASE = os.environ.get("YAHOO_BASE", "https://query1.finance.yahoo.com").rstrip("/")
QUIET = os.environ.get("QUIET") == "1"
CENT = Decimal("0.01")


async def price(client, ticker):
    if not QUIET:
        print(f"requesting {ticker}")
    answer = await client.get(f"{BASE}/v8/finance/chart/{ticker}")
    if not QUIET:
        print(f"answered {ticker}")
    meta = answer.json()["chart"]["result"][0]["meta"]
    return Decimal(meta["regularMarketPrice"]).quantize(CENT)


async def main(tickers):
    async with httpx.AsyncClient() as client:
        return await asyncio.gather(*(price(client, t) for t in tickers))


if __name__ == "__main__":
    symbols = sys.argv[1:]
    if not symbols:
        sys.exit("usage: httpx_gather.py TICKER...")
    for symbol, value in zip(symbols, asyncio.run(main(symbols))):
        print(symbol, value)
