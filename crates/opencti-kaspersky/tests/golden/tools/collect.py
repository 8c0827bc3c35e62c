"""Copies one offline run of the Python connector into golden case folders (our script)."""
import json, os, sys
dest = sys.argv[1]
cases = json.load(open("cases.json"))
calls = [json.loads(l) for l in open("out/calls.jsonl")]
bundles = sorted((f for f in os.listdir("out") if f.startswith("bundle-")), key=lambda f: int(f[7:-5]))
tips = [c["payload"] for c in calls if c["kind"] == "tip"]
assert len(bundles) == len(cases) == len(tips)
for (name, case), bundle_file, tip in zip(cases.items(), bundles, tips):
    sid = case["entity"]["standard_id"]
    folder = os.path.join(dest, name); os.makedirs(folder, exist_ok=True)
    inp = json.load(open(f"out/input-{sid}.json"))
    result = json.load(open(f"out/result-{sid}.json"))
    bundle = json.loads(open(f"out/{bundle_file}").read())
    assert any(o.get("id") == sid for o in bundle["objects"]), name
    def dump(file, value):
        with open(os.path.join(folder, file), "w") as f:
            json.dump(value, f, indent=1, ensure_ascii=False); f.write("\n")
    dump("input.json", {"enrichment_entity": inp["enrichment_entity"], "stix_entity": inp["stix_entity"], "stix_objects": inp["stix_objects"]})
    dump("tip.json", {"request": {"path": tip["path"], "query": {k: v[0] for k, v in tip["query"].items()}}, "answer": case["tip"]["answer"]})
    dump("expected.json", {"message": result.get("message"), "error": result.get("error"), "objects": bundle["objects"]})
print("ok", len(bundles))
