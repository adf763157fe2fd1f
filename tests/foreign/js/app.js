// proxyrt foreign-toolchain test app (componentize-js, exports wasi:cli/run).
import { getEnvironment, getArguments } from 'wasi:cli/environment@0.2.12';
import { exit } from 'wasi:cli/exit@0.2.12';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';
import { now } from 'wasi:clocks/wall-clock@0.2.12';
import { getRandomBytes } from 'wasi:random/random@0.2.12';

function hex(u8) {
  return Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');
}

function findDir(guestPath) {
  for (const [desc, path] of getDirectories()) {
    if (path === guestPath) return desc;
  }
  throw new Error(`no preopen ${guestPath}`);
}

export const run = {
  run() {
    console.log('js-app: hello from componentize-js');
    const args = getArguments();
    const env = Object.fromEntries(getEnvironment());
    console.log(`js-app: args=${JSON.stringify(args)}`);
    console.log(`js-app: GREETING=${JSON.stringify(env.GREETING)}`);

    const dir = findDir('/data');
    const inp = dir.openAt({}, 'in.txt', {}, { read: true });
    const chunks = [];
    let off = 0n;
    for (;;) {
      const [buf, eof] = inp.read(4096n, off);
      chunks.push(buf);
      off += BigInt(buf.length);
      if (eof || buf.length === 0) break;
    }
    const text = new TextDecoder().decode(
      Uint8Array.from(chunks.flatMap((c) => Array.from(c))));
    console.log(`js-app: read ${text.length} bytes: ${JSON.stringify(text.trim())}`);

    const out = dir.openAt({}, 'out.txt', { create: true, truncate: true }, { write: true });
    const data = new TextEncoder().encode(text.toUpperCase() + `greeting=${env.GREETING}\n`);
    out.write(data, 0n);
    console.log('js-app: wrote /data/out.txt');

    const t = now();
    console.log(`js-app: wall-clock seconds=${t.seconds} nanos=${t.nanoseconds}`);
    console.log(`js-app: Date.now()=${Date.now()}`);
    console.log(`js-app: random bytes=${hex(getRandomBytes(8n))}`);
    const r = new Uint8Array(8);
    crypto.getRandomValues(r);
    console.log(`js-app: crypto.getRandomValues=${hex(r)}`);
    console.error('js-app: to stderr');
    console.log(`js-app: Math.random()=${Math.random()}`);

    if (args.includes('fail')) {
      console.error('js-app: failing on purpose');
      exit({ tag: 'err', val: undefined });
    }
    if (args.includes('throw')) {
      throw new Error('js-app: run returns err');
    }
    console.log('js-app: done');
  },
};
