"""Validates the objects each golden bundle's connector created (not the echoed entity/markings from OpenCTI's export)."""
import json, os, sys
from stix2validator import validate_instance, ValidationOptions
root = sys.argv[1]
opts = ValidationOptions(strict=False, version="2.1")
for case in sorted(os.listdir(root)):
    path = os.path.join(root, case, "expected.json")
    if not os.path.isfile(path): continue
    inp = json.load(open(os.path.join(root, case, "input.json")))
    echoed = {o["id"] for o in inp["stix_objects"]}
    objs = [o for o in json.load(open(path))["objects"] if o["id"] not in echoed]
    results = [validate_instance(o, opts) for o in objs]
    errs = [(o["type"], e.message[:120]) for o, r in zip(objs, results) for e in (r.errors or [])]
    warns = sorted({str(w)[:110] for r in results for w in (r.warnings or [])})
    print(case, sum(r.is_valid for r in results), "/", len(objs), "valid; errors:", errs[:3])
    for w in warns[:8]: print("   warning:", w)
