//! `compute`: a compute-bound WASI command for benchmarks.
//!
//! Usage: `compute [STEPS] [SIEVE]`
//! - `STEPS` (default 8000000): steps of the classic 5-body simulation (floating point).
//! - `SIEVE` (default 5000000): the sieve of Eratosthenes up to this bound (integer, memory).
//!
//! Output (three lines, deterministic for given arguments):
//! ```text
//! nbody steps=8000000 energy=-0.169048121
//! sieve below=5000000 primes=348513
//! checksum=1ea33e873c8c91d3
//! ```
//! `wasmtime run` takes about 0.7 s for the defaults on the 2-core dev machine; `compute 1000 1000`
//! is instant. It makes almost no WASI calls: its arguments, a few writes to stdout, and the exit.

// The classic benchmark: its constants with the digits as published, index loops over x/y/z.
#![allow(clippy::excessive_precision, clippy::needless_range_loop)]

use std::f64::consts::PI;

const SOLAR_MASS: f64 = 4.0 * PI * PI;
const DAYS_PER_YEAR: f64 = 365.24;

#[derive(Clone, Copy)]
struct Body {
    pos: [f64; 3],
    vel: [f64; 3],
    mass: f64,
}

fn bodies() -> [Body; 5] {
    let b = |pos: [f64; 3], vel: [f64; 3], mass: f64| Body {
        pos,
        vel: [
            vel[0] * DAYS_PER_YEAR,
            vel[1] * DAYS_PER_YEAR,
            vel[2] * DAYS_PER_YEAR,
        ],
        mass: mass * SOLAR_MASS,
    };
    let mut bodies = [
        b([0.0; 3], [0.0; 3], 1.0),
        b(
            [
                4.84143144246472090e+00,
                -1.16032004402742839e+00,
                -1.03622044471123109e-01,
            ],
            [
                1.66007664274403694e-03,
                7.69901118419740425e-03,
                -6.90460016972063023e-05,
            ],
            9.54791938424326609e-04,
        ),
        b(
            [
                8.34336671824457987e+00,
                4.12479856412430479e+00,
                -4.03523417114321381e-01,
            ],
            [
                -2.76742510726862411e-03,
                4.99852801234917238e-03,
                2.30417297573763929e-05,
            ],
            2.85885980666130812e-04,
        ),
        b(
            [
                1.28943695621391310e+01,
                -1.51111514016986312e+01,
                -2.23307578892655734e-01,
            ],
            [
                2.96460137564761618e-03,
                2.37847173959480950e-03,
                -2.96589568540237556e-05,
            ],
            4.36624404335156298e-05,
        ),
        b(
            [
                1.53796971148509165e+01,
                -2.59193146099879641e+01,
                1.79258772950371181e-01,
            ],
            [
                2.68067772490389322e-03,
                1.62824170038242295e-03,
                -9.51592254519715870e-05,
            ],
            5.15138902046611451e-05,
        ),
    ];
    // Offset the sun's momentum.
    let mut p = [0.0; 3];
    for body in &bodies {
        for k in 0..3 {
            p[k] += body.vel[k] * body.mass;
        }
    }
    for k in 0..3 {
        bodies[0].vel[k] = -p[k] / SOLAR_MASS;
    }
    bodies
}

fn advance(bodies: &mut [Body; 5], dt: f64) {
    for i in 0..5 {
        for j in (i + 1)..5 {
            let d = [
                bodies[i].pos[0] - bodies[j].pos[0],
                bodies[i].pos[1] - bodies[j].pos[1],
                bodies[i].pos[2] - bodies[j].pos[2],
            ];
            let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            let mag = dt / (d2 * d2.sqrt());
            let (mi, mj) = (bodies[i].mass * mag, bodies[j].mass * mag);
            for k in 0..3 {
                bodies[i].vel[k] -= d[k] * mj;
                bodies[j].vel[k] += d[k] * mi;
            }
        }
    }
    for body in bodies.iter_mut() {
        for k in 0..3 {
            body.pos[k] += dt * body.vel[k];
        }
    }
}

fn energy(bodies: &[Body; 5]) -> f64 {
    let mut e = 0.0;
    for i in 0..5 {
        let v = &bodies[i].vel;
        e += 0.5 * bodies[i].mass * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        for j in (i + 1)..5 {
            let d: Vec<f64> = (0..3)
                .map(|k| bodies[i].pos[k] - bodies[j].pos[k])
                .collect();
            e -= bodies[i].mass * bodies[j].mass / (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        }
    }
    e
}

fn sieve(limit: usize) -> (usize, u64) {
    let mut composite = vec![false; limit];
    let (mut count, mut hash) = (0usize, 0xcbf2_9ce4_8422_2325u64);
    for n in 2..limit {
        if !composite[n] {
            count += 1;
            hash = (hash ^ n as u64).wrapping_mul(0x0100_0000_01b3);
            // `n * n` would overflow usize (32 bits on wasm32) for large `n`.
            if n > (limit - 1) / n {
                continue;
            }
            let mut m = n * n;
            while m < limit {
                composite[m] = true;
                m += n;
            }
        }
    }
    (count, hash)
}

fn arg(n: usize, default: u64) -> u64 {
    match std::env::args().nth(n) {
        None => default,
        Some(s) => s.parse().unwrap_or_else(|_| {
            eprintln!(
                "compute: argument {n} `{s}` is not a number\nusage: compute [STEPS] [SIEVE]"
            );
            std::process::exit(2)
        }),
    }
}

fn main() {
    let steps = arg(1, 8_000_000);
    let limit = arg(2, 5_000_000);

    let mut b = bodies();
    for _ in 0..steps {
        advance(&mut b, 0.01);
    }
    let e = energy(&b);
    println!("nbody steps={steps} energy={e:.9}");

    let (primes, hash) = sieve(limit as usize);
    println!("sieve below={limit} primes={primes}");

    println!("checksum={:016x}", e.to_bits() ^ hash);
}
