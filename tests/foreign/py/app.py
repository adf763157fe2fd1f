"""proxyrt foreign-toolchain test app (componentize-py, wasi:cli/command@0.2.0)."""
import os
import sys
import time

from wit_world import exports
from wit_world.imports import environment, wall_clock, random as wrandom


class Run(exports.Run):
    def run(self) -> None:
        print("py-app: hello from componentize-py")
        # Runtime environment straight from the wasi:cli/environment import
        args = environment.get_arguments()
        env = dict(environment.get_environment())
        print(f"py-app: wit args={args}")
        print(f"py-app: wit GREETING={env.get('GREETING')!r}")
        # ...and what the (pre-initialized) Python runtime thinks
        print(f"py-app: sys.argv={sys.argv} os.environ GREETING={os.environ.get('GREETING')!r}")

        with open("/data/in.txt") as f:
            text = f.read()
        print(f"py-app: read {len(text)} bytes: {text.strip()!r}")
        with open("/data/out.txt", "w") as f:
            f.write(text.upper())
            f.write(f"greeting={env.get('GREETING')}\n")
        print("py-app: wrote /data/out.txt")

        now = wall_clock.now()
        print(f"py-app: wall-clock seconds={now.seconds} nanos={now.nanoseconds}")
        print(f"py-app: time.time()={time.time():.3f}")
        rb = wrandom.get_random_bytes(8)
        print(f"py-app: random bytes={bytes(rb).hex()}")
        print(f"py-app: os.urandom={os.urandom(8).hex()}")
        print("py-app: to stderr", file=sys.stderr)
        sys.stdout.flush()

        if "fail" in args:
            print("py-app: failing on purpose", file=sys.stderr)
            sys.exit(3)
        print("py-app: done")
