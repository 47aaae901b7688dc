#!/usr/bin/env python3
"""S7: subscription fan-out. Opens N admin subscribers (graphql-transport-ws) on one instance,
makes M banner mutations one after another, and measures for each the time from the mutation's
HTTP response to the last subscriber receiving its event. Prints JSON; used by bench/run.

Usage: bench/fanout.py BASE_URL TOKEN [--subscribers 1000] [--mutations 30]
"""
import argparse, asyncio, json, time, urllib.request

import websockets  # PyPI `websockets`, installed by bench/run


async def subscriber(url, token, ready, received, index):
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], max_queue=None, open_timeout=60) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        ack = json.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "subscription { bannerUpdated { bannerId action } }"}}))
        ready.release()
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif msg.get("type") == "next":
                received.setdefault(index, []).append(time.perf_counter())


def mutate(base, token, i):
    body = json.dumps({"query": f'mutation {{ updateHeroBanner(id: "SGVyb0Jhbm5lcjoy", input: {{ subtitle: "fan-out {i}" }}) {{ id }} }}'}).encode()
    req = urllib.request.Request(base + "/graphql", data=body, method="POST",
                                 headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()
    return time.perf_counter()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("token")
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--mutations", type=int, default=30)
    a = ap.parse_args()
    url = a.base.replace("http://", "ws://") + "/graphql/ws"
    ready = asyncio.Semaphore(0)
    received = {}
    tasks = []
    for i in range(a.subscribers):
        tasks.append(asyncio.create_task(subscriber(url, a.token, ready, received, i)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    for _ in range(a.subscribers):
        await asyncio.wait_for(ready.acquire(), timeout=120)
    await asyncio.sleep(0.5)
    lags, missing = [], 0
    loop = asyncio.get_running_loop()
    for m in range(a.mutations):
        before = {k: len(v) for k, v in received.items()}
        t_response = await loop.run_in_executor(None, mutate, a.base, a.token, m)
        deadline = time.perf_counter() + 5
        while time.perf_counter() < deadline:
            done = sum(1 for k in range(a.subscribers) if len(received.get(k, [])) > before.get(k, 0))
            if done == a.subscribers:
                break
            await asyncio.sleep(0.002)
        arrivals = [received[k][before.get(k, 0)] for k in range(a.subscribers) if len(received.get(k, [])) > before.get(k, 0)]
        missing += a.subscribers - len(arrivals)
        if arrivals:
            lags.append((max(arrivals) - t_response) * 1000)
        await asyncio.sleep(0.1)
    for t in tasks:
        t.cancel()
    lags.sort()
    pick = lambda q: lags[min(len(lags) - 1, int(len(lags) * q))] if lags else None
    print(json.dumps({"subscribers": a.subscribers, "mutations": a.mutations, "missing": missing,
                      "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": lags[-1] if lags else None}))


asyncio.run(main())
