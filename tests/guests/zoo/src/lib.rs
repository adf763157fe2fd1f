//! `zoo`: a component of the custom world `proxyrt:zoo/zoo` (wit/world.wit) that uses every kind
//! of WIT type in imports and exports, and imports nothing from WASI.
//!
//! It is `no_std` on purpose: without std nothing pulls in WASI (std on wasm32-wasip2 imports
//! wasi:cli, wasi:io, ... even for a library). What std would give is provided here: a global
//! allocator (dlmalloc over `memory.grow`) and a panic handler that traps.
//!
//! Exports: `api` (echo/transform functions, the `counter` resource, `exercise-host`) and the
//! root functions `hello`, `add`, `calls`. Imports: `host` (with the `blob` resource), which a
//! runtime must provide; `wasmtime run -W unknown-imports-trap=y` makes those imports trap so the
//! pure exports can still be invoked.

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;
use core::sync::atomic::{AtomicU64, Ordering};

wit_bindgen::generate!({
    path: "wit",
    world: "zoo",
});

use exports::proxyrt::zoo::api::{self, CounterBorrow};
use proxyrt::zoo::host::{self, Blob, LabeledBlob};
use proxyrt::zoo::types::{Color, Perms, Person, Point, Shape};

// The global allocator, the panic handler and `cabi_realloc`: what std would give.
mod nostd;

/// Calls served by this instance's exports (see the `calls` export).
static CALLS: AtomicU64 = AtomicU64::new(0);

fn tick() {
    CALLS.fetch_add(1, Ordering::Relaxed);
}

struct Zoo;

export!(Zoo);

impl Guest for Zoo {
    fn hello(name: String) -> String {
        tick();
        format!("hello, {name}")
    }

    fn add(a: u32, b: u32) -> u32 {
        tick();
        a.wrapping_add(b)
    }

    fn calls() -> u64 {
        tick();
        CALLS.load(Ordering::Relaxed)
    }

    fn crash(reason: String) {
        tick();
        panic!("crash: {reason}")
    }
}

/// The guest-defined resource `counter`.
pub struct Counter {
    value: Cell<i64>,
}

impl api::GuestCounter for Counter {
    fn new(start: i64) -> Self {
        tick();
        Counter {
            value: Cell::new(start),
        }
    }

    fn incr(&self, by: i64) -> i64 {
        tick();
        let v = self.value.get().wrapping_add(by);
        self.value.set(v);
        v
    }

    fn get(&self) -> i64 {
        tick();
        self.value.get()
    }

    fn total(counters: Vec<CounterBorrow<'_>>) -> i64 {
        tick();
        counters
            .iter()
            .map(|c| c.get::<Counter>().value.get())
            .fold(0i64, |a, b| a.wrapping_add(b))
    }
}

macro_rules! echo {
    ($($name:ident: $ty:ty),* $(,)?) => {
        $(fn $name(x: $ty) -> $ty {
            tick();
            x
        })*
    };
}

impl api::Guest for Zoo {
    type Counter = Counter;

    echo! {
        echo_bool: bool,
        echo_u8: u8,
        echo_u16: u16,
        echo_u32: u32,
        echo_u64: u64,
        echo_s8: i8,
        echo_s16: i16,
        echo_s32: i32,
        echo_s64: i64,
        echo_f32: f32,
        echo_f64: f64,
        echo_char: char,
        echo_string: String,
        echo_bytes: Vec<u8>,
        echo_strings: Vec<String>,
        echo_people: Vec<Person>,
        echo_tuple: (u8, String, f64),
        echo_record: Person,
        echo_point: Point,
        echo_variant: Shape,
        echo_enum: Color,
        echo_flags: Perms,
        echo_option: Option<String>,
        echo_result: Result<u32, String>,
        echo_unit_result: Result<(), String>,
        echo_nested: Option<Vec<Option<Point>>>,
    }

    fn add_all(
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
    ) -> f64 {
        tick();
        [
            a as f64, b as f64, c as f64, d as f64, e as f64, f as f64, g as f64, h as f64,
            i as f64, j, k as f64, l as f64, m as f64, n as f64, o as f64, p as f64, q as f64,
        ]
        .iter()
        .sum()
    }

    fn floats(a: f32, b: f64) -> (f32, f64) {
        tick();
        (a + 1.0, b * 2.0)
    }

    fn divide(a: i32, b: i32) -> Result<i32, String> {
        tick();
        if b == 0 {
            return Err("division by zero".to_string());
        }
        a.checked_div(b).ok_or_else(|| "overflow".to_string())
    }

    fn stats(data: Vec<u8>, text: String) -> (u32, u64, String) {
        tick();
        let sum = data.iter().fold(0u32, |s, &b| s.wrapping_add(u32::from(b)));
        (sum, data.len() as u64, text.chars().rev().collect())
    }

    fn exercise_host() -> Vec<String> {
        tick();
        exercise_host()
    }
}

fn ada() -> Person {
    Person {
        id: 1,
        name: "Ada".to_string(),
        age: 36,
        tags: vec!["math".to_string(), "engines".to_string()],
        email: Some("ada@example.org".to_string()),
        home: Some(Point { x: 51, y: 0 }),
        scores: vec![9.5, 10.0],
        favorite: Color::Blue,
        perms: Perms::WRITE | Perms::ADMIN | Perms::STICKY,
    }
}

fn bob() -> Person {
    Person {
        id: 2,
        name: "Bob".to_string(),
        age: 12,
        tags: vec![],
        email: None,
        home: None,
        scores: vec![],
        favorite: Color::Other,
        perms: Perms::empty(),
    }
}

/// Describes a blob without its handle number: `blob(size=N)`.
fn blob_desc(b: &Blob) -> String {
    format!("blob(size={})", b.size())
}

fn opt_blob_desc(b: Option<&Blob>) -> String {
    match b {
        Some(b) => format!("Some({})", blob_desc(b)),
        None => "None".to_string(),
    }
}

fn res_blob_desc(r: Result<&Blob, &String>) -> String {
    match r {
        Ok(b) => format!("Ok({})", blob_desc(b)),
        Err(e) => format!("Err({e:?})"),
    }
}

/// Calls every host function with fixed arguments; one line per call.
fn exercise_host() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    macro_rules! line {
        ($($arg:tt)*) => { out.push(format!($($arg)*)) };
    }

    host::ping();
    line!("ping() = ()");
    host::log("hello from zoo");
    line!("log(\"hello from zoo\") = ()");
    line!("flip(true) = {:?}", host::flip(true));
    line!("flip(false) = {:?}", host::flip(false));
    line!(
        "incr-unsigned(255, 65535, 7, 18446744073709551615) = {:?}",
        host::incr_unsigned(u8::MAX, u16::MAX, 7, u64::MAX)
    );
    line!(
        "negate-signed(-128, 5, -7, 9223372036854775807) = {:?}",
        host::negate_signed(i8::MIN, 5, -7, i64::MAX)
    );
    line!(
        "double-floats(1.5, -2.25) = {:?}",
        host::double_floats(1.5, -2.25)
    );
    line!("next-char('a') = {:?}", host::next_char('a'));
    line!(
        "next-char('\\u{{d7ff}}') = {:?}",
        host::next_char('\u{d7ff}')
    );
    line!(
        "next-char('\\u{{10ffff}}') = {:?}",
        host::next_char('\u{10ffff}')
    );
    line!("upper(\"héllo zoo\") = {:?}", host::upper("héllo zoo"));
    line!(
        "reverse-bytes([1, 2, 3, 250]) = {:?}",
        host::reverse_bytes(&[1, 2, 3, 250])
    );
    line!("reverse-bytes([]) = {:?}", host::reverse_bytes(&[]));
    line!("split(\"a,b,,c\", ',') = {:?}", host::split("a,b,,c", ','));
    let parts = ["x".to_string(), "y".to_string(), "z".to_string()];
    line!(
        "join([\"x\", \"y\", \"z\"], \"-\") = {:?}",
        host::join(&parts, "-")
    );
    line!(
        "filter-people([ada, bob], 18) = {:?}",
        host::filter_people(&[ada(), bob()], 18)
    );
    line!("swap((7, \"seven\")) = {:?}", host::swap((7, "seven")));
    line!("birthday(ada) = {:?}", host::birthday(&ada()));
    line!("birthday(bob) = {:?}", host::birthday(&bob()));
    for shape in [
        Shape::None,
        Shape::Circle(1.25),
        Shape::Rect((2.0, 0.5)),
        Shape::Poly(vec![Point { x: 1, y: -1 }, Point { x: -3, y: 4 }]),
        Shape::Named("tri".to_string()),
    ] {
        line!("scale-shape({shape:?}) = {:?}", host::scale_shape(&shape));
    }
    for color in [Color::Red, Color::Green, Color::Blue, Color::Other] {
        line!("next-color({color:?}) = {:?}", host::next_color(color));
    }
    for perms in [
        Perms::empty(),
        Perms::READ | Perms::WRITE | Perms::STICKY,
        Perms::all(),
    ] {
        line!("invert-perms({perms:?}) = {:?}", host::invert_perms(perms));
    }
    line!("describe(Some(42)) = {:?}", host::describe(Some(42)));
    line!("describe(None) = {:?}", host::describe(None));
    line!("checked(5) = {:?}", host::checked(5));
    line!("checked(-3) = {:?}", host::checked(-3));
    line!("validate(\"x\") = {:?}", host::validate("x"));
    line!("validate(\"\") = {:?}", host::validate(""));
    line!("lookup(\"answer\") = {:?}", host::lookup("answer"));
    line!("lookup(\"name\") = {:?}", host::lookup("name"));
    line!("lookup(\"nope\") = {:?}", host::lookup("nope"));
    line!("maybe-fail(true) = {:?}", host::maybe_fail(true));
    line!("maybe-fail(false) = {:?}", host::maybe_fail(false));
    line!(
        "sum-many(1, 2, 3, 4, -5, -6, -7, -8, 0.5, 0.25, 11, 12, 13, 14, -15, -16, -17, -18, 'A', true) = {:?}",
        host::sum_many(1, 2, 3, 4, -5, -6, -7, -8, 0.5, 0.25, 11, 12, 13, 14, -15, -16, -17, -18, 'A', true)
    );
    line!(
        "bounds([1, -2, 3], [4, 5, -6]) = {:?}",
        host::bounds(&[1, -2, 3], &[4, 5, -6])
    );

    // The host-defined resource `blob`.
    let a = Blob::new(&[1, 2, 3, 4, 5]);
    line!("blob::new([1, 2, 3, 4, 5]) = {}", blob_desc(&a));
    line!("a.read(2) = {:?}", a.read(2));
    line!("a.read(10) = {:?}", a.read(10));
    line!("a.read(1) = {:?}", a.read(1));
    let b = Blob::new(b"xyz");
    line!("blob::new(b\"xyz\") = {}", blob_desc(&b));
    let merged = Blob::merge(&a, &b);
    line!("blob::merge(a, b) = {}", blob_desc(&merged));
    line!("merged.read(100) = {:?}", merged.read(100));
    line!(
        "total-size([a, b, merged]) = {:?}",
        host::total_size(&[&a, &b, &merged])
    );
    line!("total-size([]) = {:?}", host::total_size(&[]));

    let some = host::maybe_blob(Some(&[9, 9]));
    line!(
        "maybe-blob(Some([9, 9])) = {}",
        opt_blob_desc(some.as_ref())
    );
    line!(
        "maybe-blob(None) = {}",
        opt_blob_desc(host::maybe_blob(None).as_ref())
    );
    line!("consume(Some(blob(size=2))) = {:?}", host::consume(some));
    line!("consume(None) = {:?}", host::consume(None));

    let ok = host::try_blob(&[7]);
    line!("try-blob([7]) = {}", res_blob_desc(ok.as_ref()));
    line!(
        "try-blob([]) = {}",
        res_blob_desc(host::try_blob(&[]).as_ref())
    );

    let labeled: LabeledBlob = host::label("tag", Blob::new(b"hello"));
    line!(
        "label(\"tag\", blob::new(b\"hello\")) = LabeledBlob {{ label: {:?}, blob: {} }}",
        labeled.label,
        blob_desc(&labeled.blob)
    );
    line!("unlabel(labeled) = {:?}", host::unlabel(labeled));
    if let Ok(blob) = ok {
        let relabeled = LabeledBlob {
            label: "seven".to_string(),
            blob,
        };
        line!(
            "unlabel(LabeledBlob {{ label: \"seven\", blob: try-blob([7]) }}) = {:?}",
            host::unlabel(relabeled)
        );
    }

    let (left, right) = host::split_blob(&merged, 3);
    line!(
        "split-blob(merged, 3) = ({}, {})",
        blob_desc(&left),
        blob_desc(&right)
    );
    line!("left.read(10) = {:?}", left.read(10));
    line!("right.read(10) = {:?}", right.read(10));
    // `a`, `b`, `merged`, `left`, `right` are dropped here (resource.drop of each handle).
    out
}
