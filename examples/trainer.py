#!/usr/bin/env python3
"""A trainer's use of toolsim, with the Python standard library only.

An RL rollout step posts the tool calls an agent made and reads, for each, the answer the agent
sees (output, is_error) and how it was produced (tier): "exact" is a recorded answer, "fuzzy" an
improvised one, "miss" a labelled error. A trainer typically keeps exact answers for reward
labels, down-weights fuzzy ones, and counts misses to know where the cache is thin.

    python3 examples/trainer.py --url http://127.0.0.1:8080

against `toolsim serve` on the bundled tau-bench sample (npm run sample).
"""
import argparse
import collections
import json
import sys
import urllib.error
import urllib.request


def post(url, body, timeout=60):
    """POSTs JSON and returns the decoded JSON answer; toolsim answers 4xx with {"error": ...}."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        problem = json.load(error).get("error", {})
        raise RuntimeError(f"{url}: {error.code} {problem.get('code')}: {problem.get('message')}") from None


def call(base, tool, arguments, server=None, trajectory_id=None):
    """One tool call: POST /v1/call."""
    body = {"tool": tool, "arguments": arguments}
    if server is not None:
        body["server"] = server
    if trajectory_id is not None:
        body["trajectory_id"] = trajectory_id
    return post(f"{base}/v1/call", body)


def call_batch(base, calls):
    """Many calls in one request: POST /v1/calls; results come back in the same order."""
    return post(f"{base}/v1/calls", {"calls": calls})["results"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the toolsim server")
    base = parser.parse_args().url.rstrip("/")

    # One call: a user lookup that the tau-bench exploration recorded.
    result = call(base, "find_user_id_by_name_zip", {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"})
    print(f"{result['tier']:5}  find_user_id_by_name_zip -> {json.dumps(result['output'])}")

    # A rollout group: 8 sibling rollouts make the same call, plus one call no exploration made.
    siblings = [{"tool": "get_order_details", "arguments": {"order_id": "#W2378156"}, "trajectory_id": f"rollout-{i}"} for i in range(8)]
    unseen = {"tool": "get_order_details", "arguments": {"order_id": "#W0000000"}, "trajectory_id": "rollout-8"}
    results = call_batch(base, siblings + [unseen])

    tiers = collections.Counter()
    for request, result in zip(siblings + [unseen], results):
        if "error" in result:  # a malformed call: an error for this item alone
            print(f"error  {request['tool']}: {result['error']['message']}")
            continue
        tiers[result["tier"]] += 1
        # Only a recorded answer is fit for a reward label: "fuzzy" was improvised by an LLM from the
        # nearest recordings, and a "miss" is a tool error for the agent (result["reason"] says why).
        reward_safe = result["tier"] == "exact"
        detail = result.get("reason") or f"{len(json.dumps(result['output']))} bytes"
        print(f"{result['tier']:5}  {request['tool']} {json.dumps(request['arguments'])} -> {detail} (reward-safe: {reward_safe})")

    # Siblings get the same answer every time, byte for byte.
    outputs = {json.dumps(r["output"]) for r in results[:8]}
    print(f"siblings agree: {len(outputs) == 1}")
    print("tiers: " + ", ".join(f"{tier} {n}" for tier, n in sorted(tiers.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
