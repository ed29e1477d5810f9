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
    }


def errors(schemas, obj):
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
