#!/usr/bin/env python3
"""Validate Kubernetes objects (YAML streams) against the published schemas,
as strictly as the API server's strict field validation: every schema object
that lists `properties` gets `additionalProperties: false`, so a misspelled
or misplaced field is an error, not silently dropped.

    k8s-validate.py SCHEMA_DIR FILE...

SCHEMA_DIR holds kubevirt-openapi.json (KubeVirt's OpenAPI; its definitions
include the core PersistentVolumeClaimSpec and ObjectMeta) and
harvesterhci.io_virtualmachineimages.yaml (Harvester's CRD).  Kinds:
VirtualMachine, PersistentVolumeClaim, VirtualMachineImage; Harvester's
harvesterhci.io/volumeClaimTemplates annotation (JSON PVCs) is validated
too.  Prints one line per object; exit status 1 if any is invalid.
"""
import copy
import json
import os
import sys

import jsonschema
import yaml


def strict(node):
    """additionalProperties: false wherever properties are listed."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for v in node.values():
            strict(v)
    elif isinstance(node, list):
        for v in node:
            strict(v)
    return node


def load_schemas(d):
    with open(os.path.join(d, "kubevirt-openapi.json")) as f:
        defs = strict(json.load(f)["definitions"])
    with open(os.path.join(d, "harvesterhci.io_virtualmachineimages.yaml")) as f:
        crd = yaml.safe_load(f)
    ver = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"][0]
    image = strict(copy.deepcopy(ver["schema"]["openAPIV3Schema"]))

    def ref(name):
        return {"definitions": defs, "$ref": "#/definitions/" + name}

    claim = {
        "definitions": defs,
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"enum": ["v1"]},
            "kind": {"enum": ["PersistentVolumeClaim"]},
            "metadata": {"$ref": "#/definitions/k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
            "spec": {"$ref": "#/definitions/k8s.io.api.core.v1.PersistentVolumeClaimSpec"},
        },
    }
    template = copy.deepcopy(claim)
    template["required"] = ["metadata", "spec"]
    del template["properties"]["apiVersion"], template["properties"]["kind"]
    return {
        ("kubevirt.io/v1", "VirtualMachine"): [ref("v1.VirtualMachine")],
        ("v1", "PersistentVolumeClaim"): [claim],
        # The CRD leaves metadata open: check it as ObjectMeta as well.
        ("harvesterhci.io/v1beta1", "VirtualMachineImage"): [
            image,
            {"definitions": defs, "type": "object", "properties": {
                "metadata": {"$ref": "#/definitions/k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"}}},
        ],
        "claim-template": [template],
        ("batch/v1", "Job"): "V1Job",
    }


def model_errors(tname, v, path="(top)"):
    """Objects with no OpenAPI schema in schemas/ (batch/v1 Job) are
    checked against the Kubernetes Python client's models (Debian's
    python3-kubernetes): every field must be one the model has (by its
    JSON name), with the model's type."""
    import kubernetes.client.models as models
    if tname.startswith("list["):
        if not isinstance(v, list):
            return ["%s: expected a list" % path]
        return [e for i, x in enumerate(v) for e in model_errors(tname[5:-1], x, "%s.%d" % (path, i))]
    if tname.startswith("dict("):
        if not isinstance(v, dict):
            return ["%s: expected a map" % path]
        inner = tname[tname.index(",") + 1:-1].strip()
        return [e for k, x in v.items() for e in model_errors(inner, x, "%s.%s" % (path, k))]
    simple = {"str": str, "int": int, "bool": bool, "float": (int, float), "datetime": str}
    if tname in simple:
        ok = isinstance(v, simple[tname]) and not (tname == "int" and isinstance(v, bool))
        return [] if ok else ["%s: expected %s, found %r" % (path, tname, v)]
    if tname == "object":
        return []
    cls = getattr(models, tname)
    if not isinstance(v, dict):
        return ["%s: expected an object (%s)" % (path, tname)]
    by_json = {j: a for a, j in cls.attribute_map.items()}
    out = []
    for k, x in v.items():
        if k not in by_json:
            out.append("%s: Additional properties are not allowed ('%s' was unexpected)" % (path, k))
            continue
        out += model_errors(cls.openapi_types[by_json[k]], x, "%s.%s" % (path, k) if path != "(top)" else k)
    return out


def errors(schemas, obj):
    if isinstance(schemas, str):
        return model_errors(schemas, obj)
    out = []
    for s in schemas:
        v = jsonschema.Draft4Validator(s)
        for e in v.iter_errors(obj):
            path = ".".join(str(p) for p in e.absolute_path) or "(top)"
            out.append("%s: %s" % (path, e.message))
    return out


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    schemas = load_schemas(sys.argv[1])
    bad = 0
    n = 0
    for path in sys.argv[2:]:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        for obj in docs:
            n += 1
            key = (obj.get("apiVersion"), obj.get("kind")) if isinstance(obj, dict) else None
            name = "%s/%s" % (key and key[1], (obj.get("metadata") or {}).get("name") if isinstance(obj, dict) else None)
            if key not in schemas:
                print("INVALID %s: no schema for apiVersion %s kind %s" % (name, *(key or (None, None))))
                bad += 1
                continue
            errs = errors(schemas[key], obj)
            ann = (obj.get("metadata") or {}).get("annotations") or {}
            t = ann.get("harvesterhci.io/volumeClaimTemplates")
            if t is not None:
                try:
                    for i, c in enumerate(json.loads(t)):
                        errs += ["volumeClaimTemplates[%d].%s" % (i, e)
                                 for e in errors(schemas["claim-template"], c)]
                except ValueError as e:
                    errs.append("volumeClaimTemplates: not JSON: %s" % e)
            if errs:
                bad += 1
                print("INVALID %s:" % name)
                for e in errs:
                    print("  " + e)
            else:
                print("ok %s" % name)
    if n == 0:
        print("no objects found")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
