#!/usr/bin/python3
"""Independent reader of what whisperc's run tracking writes.

It shares no code with the Go writers: the TFRecord framing and its masked
CRC-32C are decoded here from the format's definition, the Event/Summary
messages are decoded by Debian's python3-protobuf from a schema built below
from TensorBoard's field numbers, and MLflow's meta.yaml and DVC's .dvc
files are parsed by python3-yaml and checked against the fields MLflow's
file store and DVC 3.x use.

Usage: read_formats.py RUN_DIR   (exit status 0 when every check passes)
"""
import glob
import hashlib
import json
import os
import struct
import sys

import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
    return cond


# --- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) -------------
def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_T = _table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _T[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the published check value


# --- TensorBoard's messages, field numbers from event.proto/summary.proto
def _schema():
    f = descriptor_pb2.FileDescriptorProto(name="reader_tfevent.proto", package="reader", syntax="proto3")
    T = descriptor_pb2.FieldDescriptorProto
    opt, rep = T.LABEL_OPTIONAL, T.LABEL_REPEATED

    def msg(name, *fields):
        m = f.message_type.add(name=name)
        for fname, num, typ, label, tname in fields:
            fd = m.field.add(name=fname, number=num, type=typ, label=label)
            if tname:
                fd.type_name = ".reader." + tname

    msg("Event", ("wall_time", 1, T.TYPE_DOUBLE, opt, None), ("step", 2, T.TYPE_INT64, opt, None),
        ("file_version", 3, T.TYPE_STRING, opt, None), ("summary", 5, T.TYPE_MESSAGE, opt, "Summary"))
    msg("Summary", ("value", 1, T.TYPE_MESSAGE, rep, "Value"))
    msg("Value", ("tag", 1, T.TYPE_STRING, opt, None), ("simple_value", 2, T.TYPE_FLOAT, opt, None),
        ("tensor", 8, T.TYPE_MESSAGE, opt, "Tensor"), ("metadata", 9, T.TYPE_MESSAGE, opt, "Metadata"))
    msg("Metadata", ("plugin_data", 1, T.TYPE_MESSAGE, opt, "PluginData"), ("display_name", 2, T.TYPE_STRING, opt, None),
        ("data_class", 4, T.TYPE_INT32, opt, None))
    msg("PluginData", ("plugin_name", 1, T.TYPE_STRING, opt, None), ("content", 2, T.TYPE_BYTES, opt, None))
    msg("Tensor", ("dtype", 1, T.TYPE_INT32, opt, None), ("tensor_shape", 2, T.TYPE_MESSAGE, opt, "Shape"),
        ("string_val", 8, T.TYPE_BYTES, rep, None))
    msg("Shape", ("dim", 2, T.TYPE_MESSAGE, rep, "Dim"))
    msg("Dim", ("size", 1, T.TYPE_INT64, opt, None))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    desc = pool.FindMessageTypeByName("reader.Event")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


Event = _schema()


def read_tfrecords(name):
    with open(name, "rb") as fh:
        data = fh.read()
    off, out = 0, []
    while off < len(data):
        if not check(len(data) - off >= 12, f"{name}: truncated record header at {off}"):
            break
        header = data[off:off + 8]
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", data[off + 8:off + 12])
        check(hcrc == masked(header), f"{name}: bad length CRC at {off}")
        body = data[off + 12:off + 12 + length]
        if not check(len(body) == length and len(data) >= off + 16 + length, f"{name}: truncated record at {off}"):
            break
        (dcrc,) = struct.unpack("<I", data[off + 12 + length:off + 16 + length])
        check(dcrc == masked(body), f"{name}: bad data CRC at {off}")
        out.append(body)
        off += 16 + length
    return out


def tag_of(p):
    stage = p["stage"].split(".", 1)[-1] if "." in p["stage"] else p["stage"]
    return f'{stage}/{p["name"]}' if stage else p["name"]


def check_tensorboard(run, manifest, points):
    files = glob.glob(os.path.join(run, "events.out.tfevents.*"))
    if not check(len(files) == 1, f"want one event file, found {files}"):
        return 0
    events = []
    for body in read_tfrecords(files[0]):
        e = Event()
        e.ParseFromString(body)
        if hasattr(e, "UnknownFields"):
            check(len(e.UnknownFields()) == 0, "event has fields TensorBoard does not define")
        events.append(e)
    check(events and events[0].file_version == "brain.Event:2", "first event is not file_version brain.Event:2")
    texts = [v for e in events for v in e.summary.value if v.metadata.plugin_data.plugin_name == "text"]
    if check(len(texts) == 1, "no config text summary"):
        t = texts[0].tensor
        check(t.dtype == 7 and len(t.string_val) == 1, "text summary is not one DT_STRING")
        check(manifest["pipeline"].encode() in t.string_val[0], "config text does not name the pipeline")
    scalars = [(v.tag, e.step, v.simple_value) for e in events for v in e.summary.value
               if v.metadata.plugin_data.plugin_name == "scalars"]
    want = [(tag_of(p), max(p["step"], 0), p["value"]) for p in points]
    check(len(scalars) == len(want), f"{len(scalars)} scalars, metrics.jsonl has {len(want)}")
    for (tag, step, v), (wtag, wstep, wv) in zip(scalars, want):
        check(tag == wtag and step == wstep and abs(v - wv) <= 1e-6 * max(1, abs(wv)),
              f"scalar {tag}@{step}={v}, metrics.jsonl says {wtag}@{wstep}={wv}")
    return len(events)


RUN_KEYS = {"artifact_uri", "end_time", "entry_point_name", "experiment_id", "lifecycle_stage", "run_id", "run_name",
            "run_uuid", "source_name", "source_type", "source_version", "start_time", "status", "tags", "user_id"}


def check_mlflow(root, manifest, points):
    store = os.path.join(root, "mlruns")
    runs = []
    for meta in glob.glob(os.path.join(store, "*", "*", "meta.yaml")):
        rdir = os.path.dirname(meta)
        name = os.path.join(rdir, "tags", "mlflow.runName")
        if os.path.exists(name) and open(name).read() == manifest["id"]:
            runs.append(rdir)
    if not check(len(runs) == 1, f"want one MLflow run tagged {manifest['id']}, found {runs}"):
        return 0
    rdir = runs[0]
    exp_dir = os.path.dirname(rdir)
    exp = yaml.safe_load(open(os.path.join(exp_dir, "meta.yaml")))
    check(str(exp["experiment_id"]) == os.path.basename(exp_dir), "experiment_id differs from its directory")
    check(exp["lifecycle_stage"] == "active" and exp["artifact_location"].startswith("file://"), "experiment meta")
    check(os.path.isdir(os.path.join(store, "0")), "no Default experiment 0")
    info = yaml.safe_load(open(os.path.join(rdir, "meta.yaml")))
    check(set(info) == RUN_KEYS, f"run meta.yaml keys {sorted(info)}")
    check(info["run_id"] == info["run_uuid"] == os.path.basename(rdir), "run_id differs from its directory")
    check(str(info["experiment_id"]) == os.path.basename(exp_dir), "run's experiment_id")
    status = {"succeeded": 3, "failed": 4, "interrupted": 5}[manifest["status"]]
    check(info["status"] == status, f"status {info['status']}, want {status}")
    check(isinstance(info["start_time"], int) and isinstance(info["end_time"], int) and info["end_time"] >= info["start_time"],
          "start/end times")
    check(info["artifact_uri"].startswith("file://") and info["artifact_uri"].endswith("/artifacts"), "artifact_uri")
    for d in ("params", "metrics", "tags", "artifacts"):
        check(os.path.isdir(os.path.join(rdir, d)), f"no {d}/")
    got = {}
    for dirpath, _, files in os.walk(os.path.join(rdir, "metrics")):
        for fn in files:
            key = os.path.relpath(os.path.join(dirpath, fn), os.path.join(rdir, "metrics"))
            for line in open(os.path.join(dirpath, fn)):
                ts, value, step = line.split()
                got.setdefault(key, []).append((int(step), float(value)))
                check(int(ts) > 0, "metric timestamp")
    want = {}
    for p in points:
        want.setdefault(tag_of(p), []).append((max(p["step"], 0), p["value"]))
    check(got == want, f"MLflow metrics {got} differ from metrics.jsonl {want}")
    for k, v in manifest["vars"].items():
        check(open(os.path.join(rdir, "params", "var." + k)).read() == v, f"param var.{k}")
    return sum(len(v) for v in got.values())


def check_dvc(manifest):
    n = 0
    for rec in manifest["datasets"] + manifest["outputs"]:
        v = rec.get("version") or {}
        if v.get("kind") != "dvc":
            continue
        doc = yaml.safe_load(open(v["file"]))
        outs = doc.get("outs")
        if not check(isinstance(outs, list) and len(outs) == 1, f"{v['file']}: outs"):
            continue
        o = outs[0]
        check(set(o) == {"md5", "size", "hash", "path"}, f"{v['file']}: keys {sorted(o)}")
        content = open(rec["path"], "rb").read()
        md5 = hashlib.md5(content).hexdigest()
        check(o["md5"] == md5 and o["hash"] == "md5" and o["size"] == len(content), f"{v['file']}: md5/size/hash")
        check(o["path"] == os.path.basename(rec["path"]), f"{v['file']}: path")
        check(hashlib.sha256(content).hexdigest() == rec["sha256"], f"{rec['path']}: manifest sha256")
        if v.get("cache"):
            check(v["cache"].endswith(os.path.join(".dvc", "cache", "files", "md5", md5[:2], md5[2:])), "cache layout")
            check(open(v["cache"], "rb").read() == content, "cache content")
        n += 1
    return n


def main():
    run = os.path.normpath(sys.argv[1])
    manifest = json.load(open(os.path.join(run, "manifest.json")))
    points = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
    root = os.path.dirname(os.path.dirname(run))
    counts = {}
    if "tensorboard" in manifest["backends"]:
        counts["tfevents records"] = check_tensorboard(run, manifest, points)
    if "mlflow" in manifest["backends"]:
        counts["mlflow metric values"] = check_mlflow(root, manifest, points)
    counts["dvc files"] = check_dvc(manifest)
    if FAILURES:
        for f in FAILURES:
            print("FAIL:", f)
        sys.exit(1)
    print("ok:", ", ".join(f"{v} {k}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
