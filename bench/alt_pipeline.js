// The pipeline a user would script instead of lcnetd, for bench/e2e.py: one
// ffmpeg CLI process per stream decodes and scales to raw RGB frames on a
// pipe, one Node.js process classifies them all with onnxruntime-node.
//
//   node alt_pipeline.js --model M.onnx --seconds S --warmup W [--threads T]
//        [--batch B] [--ffmpeg PATH] --out FILE URL...
//
// Every frame is classified (no dropping): frames wait in per-stream queues
// and each inference call takes up to B of them, oldest first, round robin
// over the streams.  Preprocessing is what the model needs: 224x224 RGB
// (ffmpeg's scale filter stretches), /255, ImageNet mean and std, NCHW float.
// The session: intraOpNumThreads=T, sequential, graph optimisation 'all',
// thread-pool spinning off (the decoders share the CPUs).
//
// Writes FILE (JSON): per stream the frames received and classified in the
// measured window [W, W + S] seconds after the first frame of every stream,
// the queue (backlog) at the window's middle and end, and inference timings.
// Exits 0 when it ran, whatever the verdict; bench/e2e.py judges.
'use strict';

const fs = require('fs');
const { spawn } = require('child_process');

const W = 224, H = 224, FRAME = W * H * 3;
const MEAN = [0.485, 0.456, 0.406], STD = [0.229, 0.224, 0.225];

function parseArgs(argv) {
    const o = { model: null, seconds: 30, warmup: 10, threads: 2, batch: 4, ffmpeg: 'ffmpeg', out: null, urls: [] };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const v = () => {
            if (i + 1 >= argv.length)
                throw new Error(`${a} needs a value`);
            return argv[++i];
        };
        if (a === '--model') o.model = v();
        else if (a === '--seconds') o.seconds = Number(v());
        else if (a === '--warmup') o.warmup = Number(v());
        else if (a === '--threads') o.threads = Number(v());
        else if (a === '--batch') o.batch = Number(v());
        else if (a === '--ffmpeg') o.ffmpeg = v();
        else if (a === '--out') o.out = v();
        else if (a.startsWith('--')) throw new Error(`unknown argument ${a}`);
        else o.urls.push(a);
    }
    if (!o.model || !o.out || o.urls.length === 0)
        throw new Error('usage: alt_pipeline.js --model M --seconds S --warmup W --out FILE URL...');
    return o;
}

class Stream {
    constructor(i, url, o) {
        this.i = i;
        this.url = url;
        this.queue = [];          // complete frames, oldest first
        this.partial = [];        // chunks of the frame being received
        this.partialLen = 0;
        this.received = 0;
        this.done = 0;
        this.mark = null;         // counters at the window's start
        this.err = '';
        this.exited = null;
        this.proc = spawn(o.ffmpeg, ['-nostdin', '-hide_banner', '-loglevel', 'error',
            '-rtsp_transport', 'tcp', '-threads', '1', '-i', url,
            '-vf', `scale=${W}:${H}`, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'],
            { stdio: ['ignore', 'pipe', 'pipe'] });
        this.proc.stdout.on('data', (b) => this.onData(b));
        this.proc.stderr.on('data', (b) => { if (this.err.length < 2000) this.err += b; });
        this.proc.on('exit', (code, sig) => { this.exited = sig || code; });
    }

    onData(b) {
        let off = 0;
        while (off < b.length) {
            const take = Math.min(FRAME - this.partialLen, b.length - off);
            this.partial.push(b.subarray(off, off + take));
            this.partialLen += take;
            off += take;
            if (this.partialLen === FRAME) {
                this.queue.push(Buffer.concat(this.partial, FRAME));
                this.partial = [];
                this.partialLen = 0;
                this.received++;
                wake();
            }
        }
    }
}

let waiter = null;
function wake() {
    if (waiter) {
        const w = waiter;
        waiter = null;
        w();
    }
}

function toTensor(frames, data) {
    const plane = W * H;
    for (let n = 0; n < frames.length; n++) {
        const f = frames[n], base = n * 3 * plane;
        for (let c = 0; c < 3; c++) {
            const s = 1 / (255 * STD[c]), m = MEAN[c] / STD[c], o = base + c * plane;
            for (let p = 0, q = c; p < plane; p++, q += 3)
                data[o + p] = f[q] * s - m;
        }
    }
}

async function main(argv) {
    const o = parseArgs(argv);
    const ort = require('onnxruntime-node');
    const session = await ort.InferenceSession.create(o.model, {
        executionProviders: ['cpu'],
        intraOpNumThreads: o.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    const inName = session.inputNames[0];
    const streams = o.urls.map((u, i) => new Stream(i, u, o));
    const data = new Float32Array(o.batch * 3 * W * H);
    const inferMs = [];
    let rr = 0, calls = 0, frames = 0;
    let t0 = null;                          // all streams have sent a frame
    const res = { streams: o.urls.length, model: o.model, threads: o.threads, batch: o.batch };
    const now = () => Number(process.hrtime.bigint()) / 1e9;
    const startAt = now();
    const snap = () => streams.map((s) => ({ received: s.received, done: s.done, queued: s.queue.length }));
    let phase = 'warmup', deadline = null;
    let midSnap = null, startSnap = null, endSnap = null, tStart = 0, tEnd = 0;
    let cpu0 = null;

    const timer = setInterval(() => {
        const t = now();
        if (t0 === null) {
            if (streams.every((s) => s.received > 0))
                t0 = t;
            else if (t - startAt > 30) {
                phase = 'failed';
                res.error = 'not every stream delivered a frame in 30 s: ' +
                    streams.filter((s) => s.received === 0).map((s) => `${s.url} ${s.err.trim()} exit=${s.exited}`).join('; ');
                wake();
            }
            return;
        }
        if (phase === 'warmup' && t - t0 >= o.warmup) {
            phase = 'measure';
            startSnap = snap();
            tStart = t;
            cpu0 = process.cpuUsage();
            deadline = t + o.seconds;
        } else if (phase === 'measure') {
            if (!midSnap && t - tStart >= o.seconds / 2)
                midSnap = snap();
            if (t >= deadline) {
                endSnap = snap();
                tEnd = t;
                phase = 'done';
                wake();
            }
        }
        if (streams.some((s) => s.exited !== null)) {
            phase = phase === 'done' ? phase : 'failed';
            res.error = res.error || 'an ffmpeg exited: ' +
                streams.filter((s) => s.exited !== null).map((s) => `${s.url} exit=${s.exited} ${s.err.trim()}`).join('; ');
            wake();
        }
    }, 100);

    while (phase === 'warmup' || phase === 'measure') {
        const batch = [];
        const owners = [];
        // oldest first, round robin: no stream starves
        for (let k = 0; k < streams.length && batch.length < o.batch; k++) {
            const s = streams[(rr + k) % streams.length];
            if (s.queue.length) {
                batch.push(s.queue.shift());
                owners.push(s);
            }
        }
        rr = (rr + 1) % streams.length;
        if (batch.length === 0) {
            await new Promise((r) => { waiter = r; });
            continue;
        }
        toTensor(batch, data);
        const n = batch.length;
        const feed = { [inName]: new ort.Tensor('float32', data.subarray(0, n * 3 * W * H), [n, 3, H, W]) };
        const c0 = process.hrtime.bigint();
        const out = await session.run(feed);
        inferMs.push(Number(process.hrtime.bigint() - c0) / 1e6);
        // top-1, as a user would
        const scores = out[session.outputNames[0]].data;
        const classes = scores.length / n;
        for (let i = 0; i < n; i++) {
            let best = 0;
            for (let j = 1; j < classes; j++)
                if (scores[i * classes + j] > scores[i * classes + best])
                    best = j;
            owners[i].done++;
            owners[i].last = best;
        }
        calls++;
        frames += n;
    }
    clearInterval(timer);
    const cpu = cpu0 ? process.cpuUsage(cpu0) : null;
    for (const s of streams)
        s.proc.kill('SIGTERM');
    if (phase === 'done') {
        const secs = tEnd - tStart;
        res.seconds = secs;
        res.per_stream = streams.map((s, i) => ({
            received_fps: (endSnap[i].received - startSnap[i].received) / secs,
            done_fps: (endSnap[i].done - startSnap[i].done) / secs,
            queued_mid: midSnap ? midSnap[i].queued : null,
            queued_end: endSnap[i].queued,
        }));
        res.node_cpu = cpu ? (cpu.user + cpu.system) / 1e6 / secs : null;
    }
    inferMs.sort((a, b) => a - b);
    res.calls = calls;
    res.frames = frames;
    res.mean_batch = calls ? frames / calls : 0;
    res.infer_median_ms = inferMs.length ? inferMs[Math.floor(inferMs.length / 2)] : null;
    res.rss_mb = process.memoryUsage().rss / 1048576;
    res.ok_run = phase === 'done';
    fs.writeFileSync(o.out, JSON.stringify(res) + '\n');
    if (typeof session.release === 'function')
        await session.release();
    process.exit(0);
}

main(process.argv.slice(2)).catch((e) => {
    console.error(`alt_pipeline: ${e.stack || e}`);
    process.exit(1);
});
