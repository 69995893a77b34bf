// Time ONNX Runtime (CPU) on an ONNX model, for comparison with
// `lcnet-infer --bench`.  Prints one JSON line with the same fields.
//
//   node ort_bench.js --version
//   node ort_bench.js --model M.onnx --bench N [--threads T] [--batch B] [--warmup W]
//
// Session: intraOpNumThreads=T, interOpNumThreads=1, sequential execution,
// graph optimisation 'all' (ORT's own fusions on: the fair comparison).
// Input: random float32 NCHW of the model's first input, fixed seed; the
// timing covers session.run() only (no preprocessing), each await timed
// on its own.  onnxruntime-node is found through NODE_PATH.
'use strict';

const fs = require('fs');
const path = require('path');

function ortVersion() {
    let dir = path.dirname(require.resolve('onnxruntime-node'));
    while (!fs.existsSync(path.join(dir, 'package.json')))
        dir = path.dirname(dir);
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
}

function parseArgs(argv) {
    const o = { model: null, bench: 0, threads: 1, batch: 1, warmup: 20 };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const v = () => {
            if (i + 1 >= argv.length)
                throw new Error(`${a} needs a value`);
            return argv[++i];
        };
        if (a === '--model') o.model = v();
        else if (a === '--bench') o.bench = Number(v());
        else if (a === '--threads') o.threads = Number(v());
        else if (a === '--batch') o.batch = Number(v());
        else if (a === '--warmup') o.warmup = Number(v());
        else throw new Error(`unknown argument ${a}`);
    }
    for (const k of ['bench', 'threads', 'batch'])
        if (!Number.isInteger(o[k]) || o[k] < 1)
            throw new Error(`--${k} must be a positive integer`);
    if (!Number.isInteger(o.warmup) || o.warmup < 0)
        throw new Error('--warmup must be a non-negative integer');
    if (!o.model)
        throw new Error('usage: ort_bench.js --model M.onnx --bench N [--threads T] [--batch B] [--warmup W]');
    return o;
}

async function main(argv) {
    if (argv.length === 1 && argv[0] === '--version') {
        console.log(ortVersion());
        return;
    }
    const o = parseArgs(argv);
    const ort = require('onnxruntime-node');
    const session = await ort.InferenceSession.create(o.model, {
        executionProviders: ['cpu'],
        intraOpNumThreads: o.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
    });
    const inName = session.inputNames[0];
    const meta = session.inputMetadata && session.inputMetadata[0];
    let dims = [o.batch, 3, 224, 224];
    if (meta && Array.isArray(meta.shape) && meta.shape.length === 4)
        dims = meta.shape.map((d, i) => (i === 0 ? o.batch : Number(d)));
    if (dims.some((d) => !Number.isInteger(d) || d <= 0))
        throw new Error(`${o.model}: cannot size input ${inName} [${meta && meta.shape}]`);
    const count = dims.reduce((a, b) => a * b, 1);

    // fixed pseudo-random input in [-2, 2): timings do not depend on content
    const data = new Float32Array(count);
    let r = 12345;
    for (let i = 0; i < count; i++) {
        r = (Math.imul(r, 1664525) + 1013904223) >>> 0;
        data[i] = (r / 4294967296) * 4 - 2;
    }
    const feeds = { [inName]: new ort.Tensor('float32', data, dims) };

    const t = new Float64Array(o.bench);
    for (let i = 0; i < o.warmup + o.bench; i++) {
        const t0 = process.hrtime.bigint();
        await session.run(feeds);
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (i >= o.warmup)
            t[i - o.warmup] = ms;
    }
    t.sort();
    const med = t[Math.floor(o.bench / 2)];
    const p99 = t[Math.floor((o.bench - 1) * 0.99)];
    console.log(JSON.stringify({
        model: o.model,
        runtime: `onnxruntime-node-${ortVersion()}`,
        precision: 'fp32',
        threads: o.threads,
        batch: o.batch,
        runs: o.bench,
        median_ms: Number(med.toFixed(4)),
        p99_ms: Number(p99.toFixed(4)),
        min_ms: Number(t[0].toFixed(4)),
        images_per_s: Number((1000 * o.batch / med).toFixed(1)),
    }));
    if (typeof session.release === 'function')
        await session.release();
}

main(process.argv.slice(2)).catch((e) => {
    console.error(`ort_bench: ${e.message || e}`);
    process.exit(1);
});
