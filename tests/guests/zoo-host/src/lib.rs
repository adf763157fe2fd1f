//! `zoo-host`: the reference implementation of the zoo's `host` interface, as a component
//! (world `proxyrt:zoo/zoo-host`, ../zoo/wit/world.wit). Each function does what its doc comment
//! in the WIT says. Composed with the zoo (`wasm-tools compose zoo.wasm -d zoo_host.wasm`), it
//! gives a runnable component whose `exercise-host` output is the expected one
//! (../zoo/exercise-host.expected). `no_std` like the zoo: it imports nothing.

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::Cell;

wit_bindgen::generate!({
    path: "../zoo/wit",
    world: "zoo-host",
});

use exports::proxyrt::zoo::host::{Blob, BlobBorrow, Guest, GuestBlob, LabeledBlob};
use proxyrt::zoo::types::{Color, Perms, Person, Point, Shape};

#[path = "../../zoo/src/nostd.rs"]
mod nostd;

/// The host-defined resource `blob`: bytes and a read cursor.
pub struct BlobImpl {
    data: Vec<u8>,
    cursor: Cell<usize>,
}

impl BlobImpl {
    fn new_blob(data: Vec<u8>) -> Blob {
        Blob::new(BlobImpl {
            data,
            cursor: Cell::new(0),
        })
    }
}

impl GuestBlob for BlobImpl {
    fn new(data: Vec<u8>) -> Self {
        BlobImpl {
            data,
            cursor: Cell::new(0),
        }
    }

    fn read(&self, n: u32) -> Vec<u8> {
        let start = self.cursor.get();
        let end = start.saturating_add(n as usize).min(self.data.len());
        self.cursor.set(end);
        self.data[start..end].to_vec()
    }

    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    fn merge(a: BlobBorrow<'_>, b: BlobBorrow<'_>) -> Blob {
        let (a, b) = (a.get::<BlobImpl>(), b.get::<BlobImpl>());
        let mut data = a.data.clone();
        data.extend_from_slice(&b.data);
        BlobImpl::new_blob(data)
    }
}

struct Host;

export!(Host);

/// The number of `log` calls (there is nowhere to print in a component without WASI).
static mut LOGGED: u64 = 0;

impl Guest for Host {
    type Blob = BlobImpl;

    fn ping() {}

    fn log(_msg: String) {
        unsafe { LOGGED += 1 };
    }

    fn flip(x: bool) -> bool {
        !x
    }

    fn incr_unsigned(a: u8, b: u16, c: u32, d: u64) -> (u8, u16, u32, u64) {
        (
            a.wrapping_add(1),
            b.wrapping_add(1),
            c.wrapping_add(1),
            d.wrapping_add(1),
        )
    }

    fn negate_signed(a: i8, b: i16, c: i32, d: i64) -> (i8, i16, i32, i64) {
        (
            a.wrapping_neg(),
            b.wrapping_neg(),
            c.wrapping_neg(),
            d.wrapping_neg(),
        )
    }

    fn double_floats(a: f32, b: f64) -> (f32, f64) {
        (a * 2.0, b * 2.0)
    }

    fn next_char(c: char) -> char {
        let mut n = c as u32 + 1;
        if n == 0xd800 {
            n = 0xe000;
        }
        char::from_u32(n).unwrap_or(c)
    }

    fn upper(s: String) -> String {
        s.to_uppercase()
    }

    fn reverse_bytes(mut data: Vec<u8>) -> Vec<u8> {
        data.reverse();
        data
    }

    fn split(s: String, sep: char) -> Vec<String> {
        s.split(sep).map(|p| p.to_string()).collect()
    }

    fn join(parts: Vec<String>, sep: String) -> String {
        parts.join(&sep)
    }

    fn filter_people(people: Vec<Person>, min_age: u8) -> Vec<Person> {
        people.into_iter().filter(|p| p.age >= min_age).collect()
    }

    fn swap(t: (u32, String)) -> (String, u32) {
        (t.1, t.0)
    }

    fn birthday(mut p: Person) -> Person {
        p.age = p.age.saturating_add(1);
        p.tags.push("seen".to_string());
        p.perms |= Perms::READ;
        p
    }

    fn scale_shape(s: Shape) -> Shape {
        match s {
            Shape::None => Shape::None,
            Shape::Circle(r) => Shape::Circle(r * 2.0),
            Shape::Rect((w, h)) => Shape::Rect((w * 2.0, h * 2.0)),
            Shape::Poly(points) => Shape::Poly(
                points
                    .into_iter()
                    .map(|p| Point {
                        x: p.x * 2,
                        y: p.y * 2,
                    })
                    .collect(),
            ),
            Shape::Named(name) => Shape::Named(format!("{name}!")),
        }
    }

    fn next_color(c: Color) -> Color {
        match c {
            Color::Red => Color::Green,
            Color::Green => Color::Blue,
            Color::Blue => Color::Other,
            Color::Other => Color::Red,
        }
    }

    fn invert_perms(p: Perms) -> Perms {
        Perms::all() - p
    }

    fn describe(x: Option<u32>) -> Option<String> {
        x.map(|n| n.to_string())
    }

    fn checked(x: i32) -> Result<u32, String> {
        if x >= 0 {
            Ok(x as u32)
        } else {
            Err(format!("negative: {x}"))
        }
    }

    fn validate(s: String) -> Result<(), String> {
        if s.is_empty() {
            Err("empty".to_string())
        } else {
            Ok(())
        }
    }

    fn lookup(key: String) -> Result<String, ()> {
        match key.as_str() {
            "answer" => Ok("42".to_string()),
            "name" => Ok("zoo".to_string()),
            _ => Err(()),
        }
    }

    fn maybe_fail(ok: bool) -> Result<(), ()> {
        if ok {
            Ok(())
        } else {
            Err(())
        }
    }

    fn sum_many(
        a: u8,
        b: u16,
        c: u32,
        d: u64,
        e: i8,
        f: i16,
        g: i32,
        h: i64,
        i: f32,
        j: f64,
        k: u8,
        l: u16,
        m: u32,
        n: u64,
        o: i8,
        p: i16,
        q: i32,
        r: i64,
        s: char,
        t: bool,
    ) -> f64 {
        [
            a as f64,
            b as f64,
            c as f64,
            d as f64,
            e as f64,
            f as f64,
            g as f64,
            h as f64,
            i as f64,
            j,
            k as f64,
            l as f64,
            m as f64,
            n as f64,
            o as f64,
            p as f64,
            q as f64,
            r as f64,
            s as u32 as f64,
            t as u8 as f64,
        ]
        .iter()
        .sum()
    }

    fn bounds(xs: Vec<i32>, ys: Vec<i32>) -> (Vec<Point>, Point, Point) {
        let points: Vec<Point> = xs.iter().zip(&ys).map(|(&x, &y)| Point { x, y }).collect();
        let mut min = Point {
            x: i32::MAX,
            y: i32::MAX,
        };
        let mut max = Point {
            x: i32::MIN,
            y: i32::MIN,
        };
        for p in &points {
            min = Point {
                x: min.x.min(p.x),
                y: min.y.min(p.y),
            };
            max = Point {
                x: max.x.max(p.x),
                y: max.y.max(p.y),
            };
        }
        (points, min, max)
    }

    fn total_size(blobs: Vec<BlobBorrow<'_>>) -> u64 {
        blobs
            .iter()
            .map(|b| b.get::<BlobImpl>().data.len() as u64)
            .sum()
    }

    fn maybe_blob(data: Option<Vec<u8>>) -> Option<Blob> {
        data.map(BlobImpl::new_blob)
    }

    fn consume(b: Option<Blob>) -> u64 {
        b.map_or(0, |b| b.get::<BlobImpl>().data.len() as u64)
    }

    fn try_blob(data: Vec<u8>) -> Result<Blob, String> {
        if data.is_empty() {
            Err("empty blob".to_string())
        } else {
            Ok(BlobImpl::new_blob(data))
        }
    }

    fn label(label: String, b: Blob) -> LabeledBlob {
        LabeledBlob { label, blob: b }
    }

    fn unlabel(l: LabeledBlob) -> String {
        format!("{}:{}", l.label, l.blob.get::<BlobImpl>().data.len())
    }

    fn split_blob(b: BlobBorrow<'_>, at: u32) -> (Blob, Blob) {
        let data = &b.get::<BlobImpl>().data;
        let at = (at as usize).min(data.len());
        (
            BlobImpl::new_blob(data[..at].to_vec()),
            BlobImpl::new_blob(data[at..].to_vec()),
        )
    }
}
