#!/usr/bin/env python3
"""Peer of `quotes` for bench/run: the plain sequential way, the baseline.

One requests.Session (so one kept-alive connection), one ticker after another, printing
`TICKER PRICE` as each answer arrives.

    YAHOO_BASE=http://127.0.0.1:8080 python3 requests_sequential.py T0001 T0002

YAHOO_BASE: scheme, host and port of a server that speaks Yahoo's chart format (default:
Yahoo itself). HTTPS trusts the file in REQUESTS_CA_BUNDLE when it is set.
"""
import os
import sys
from decimal import Decimal

import requests

BASE = os.environ.get("YAHOO_BASE", "https://query1.finance.yahoo.com").rstrip("/")
CENT = Decimal("0.01")

if __name__ == "__main__":
    symbols = sys.argv[1:]
    if not symbols:
        sys.exit("usage: requests_sequential.py TICKER...")
    with requests.Session() as session:
        for symbol in symbols:
            meta = session.get(f"{BASE}/v8/finance/chart/{symbol}").json()["chart"]["result"][0]["meta"]
            print(symbol, Decimal(meta["regularMarketPrice"]).quantize(CENT))
