#!/usr/bin/env python3
"""The Python baseline of the sao-vision pipeline benchmark (`benches/pipeline.rs`).

What a user would otherwise write for the same job: read a video with OpenCV, letterbox
each frame for YOLOX-Nano, run ONNX Runtime (CPU), decode the YOLOX grid with numpy, NMS
per class, and a greedy IoU tracker. Prints one JSON line at the end:

    {"frames": N, "seconds": S, "fps": F, "detections": D, "tracks": T}

`detections` is the number of detections after NMS (score >= 0.3) summed over all frames,
the same count the Rust bench takes from `Detector::infer`; `tracks` the confirmed tracks.
The clock runs from opening the video to the last frame tracked; loading the model and one
warm-up run are outside it (the Rust pipeline's session is loaded and warm too).

Needs opencv-python-headless, onnxruntime and numpy (`benches/run.sh` makes the venv).
Usage: baseline.py --model yolox_nano.onnx --video car-detection.mp4 [--threads N]
"""

import argparse
import json
import os
import time

import cv2
import numpy as np
import onnxruntime as ort

INPUT = 416
PAD = 114
STRIDES = (8, 16, 32)
SCORE_THRESHOLD = 0.3
NMS_IOU = 0.45
# Tracker: like the Rust defaults (high 0.5, match IoU 0.3, 3 hits, 1.5 s max age).
TRACK_HIGH = 0.5
TRACK_IOU = 0.3
TRACK_MIN_HITS = 3
TRACK_MAX_AGE_S = 1.5


def letterbox(frame):
    """Resize keeping the aspect ratio, top-left, pad with grey 114; NCHW float32 BGR 0-255."""
    h, w = frame.shape[:2]
    r = min(INPUT / w, INPUT / h)
    rw, rh = int(w * r + 0.5), int(h * r + 0.5)
    resized = cv2.resize(frame, (rw, rh), interpolation=cv2.INTER_LINEAR)
    padded = np.full((INPUT, INPUT, 3), PAD, dtype=np.uint8)
    padded[:rh, :rw] = resized
    tensor = padded.transpose(2, 0, 1)[None].astype(np.float32)
    return tensor, r


def make_grid():
    """Per-cell grid offsets and strides, in output order (strides 8, 16, 32)."""
    grids, strides = [], []
    for s in STRIDES:
        n = INPUT // s
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        grids.append(np.stack((xs, ys), axis=-1).reshape(-1, 2))
        strides.append(np.full((n * n, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def decode(output, grid, stride, r, width, height):
    """YOLOX grid predictions -> boxes [x, y, w, h] in frame pixels, scores, class ids."""
    pred = output[0]
    scores_all = pred[:, 4:5] * pred[:, 5:]
    class_ids = scores_all.argmax(axis=1)
    scores = scores_all[np.arange(len(class_ids)), class_ids]
    keep = scores >= SCORE_THRESHOLD
    pred, scores, class_ids = pred[keep], scores[keep], class_ids[keep]
    g, s = grid[keep], stride[keep]
    centre = (pred[:, 0:2] + g) * s
    size = np.exp(pred[:, 2:4]) * s
    x1y1 = np.clip((centre - size / 2) / r, 0, [width, height])
    x2y2 = np.clip((centre + size / 2) / r, 0, [width, height])
    boxes = np.concatenate((x1y1, x2y2 - x1y1), axis=1)
    return boxes, scores, class_ids


def nms(boxes, scores, class_ids):
    if len(boxes) == 0:
        return []
    keep = cv2.dnn.NMSBoxesBatched(
        boxes.tolist(), scores.tolist(), class_ids.tolist(), SCORE_THRESHOLD, NMS_IOU
    )
    return [int(i) for i in np.asarray(keep).reshape(-1)]


def iou(a, b):
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    """Greedy IoU tracker: best-overlap pairs first, same class only."""

    def __init__(self):
        self.tracks = []  # dicts: id, box, cls, hits, last_seen
        self.next_id = 1
        self.confirmed = 0

    def update(self, dets, t):
        self.tracks = [tr for tr in self.tracks if t - tr["last_seen"] <= TRACK_MAX_AGE_S]
        pairs = []
        for ti, tr in enumerate(self.tracks):
            for di, (box, score, cls) in enumerate(dets):
                if cls == tr["cls"] and score >= TRACK_HIGH:
                    overlap = iou(tr["box"], box)
                    if overlap >= TRACK_IOU:
                        pairs.append((overlap, ti, di))
        pairs.sort(reverse=True)
        used_t, used_d = set(), set()
        for _, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            tr = self.tracks[ti]
            tr["box"], tr["last_seen"] = dets[di][0], t
            tr["hits"] += 1
            if tr["hits"] == TRACK_MIN_HITS:
                self.confirmed += 1
        for di, (box, score, cls) in enumerate(dets):
            if di not in used_d and score >= TRACK_HIGH:
                self.tracks.append(
                    {"id": self.next_id, "box": box, "cls": cls, "hits": 1, "last_seen": t}
                )
                self.next_id += 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--video", required=True)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    session.run(None, {input_name: np.zeros((1, 3, INPUT, INPUT), np.float32)})
    grid, stride = make_grid()

    start = time.perf_counter()
    capture = cv2.VideoCapture(args.video)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    tracker = Tracker()
    frames = detections = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        height, width = frame.shape[:2]
        tensor, r = letterbox(frame)
        output = session.run(None, {input_name: tensor})[0]
        boxes, scores, class_ids = decode(output, grid, stride, r, width, height)
        kept = nms(boxes, scores, class_ids)
        detections += len(kept)
        tracker.update([(boxes[i], float(scores[i]), int(class_ids[i])) for i in kept], frames / fps)
        frames += 1
    capture.release()
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "frames": frames,
                "seconds": seconds,
                "fps": frames / seconds if seconds > 0 else 0.0,
                "detections": detections,
                "tracks": tracker.confirmed,
            }
        )
    )


if __name__ == "__main__":
    main()
