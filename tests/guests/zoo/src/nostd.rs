//! What std would provide to a `no_std` component on wasm32-wasip2, without importing WASI:
//! a global allocator, a panic handler, and the canonical ABI's `cabi_realloc`.
//! Shared by `zoo`, `zoo-host` and `http-handler` (the latter two include this file with `#[path]`).

#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// A panic is a wasm trap (`unreachable`); there is nowhere to print the message.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// The canonical ABI's allocation function, which the runtime calls to pass strings and lists in.
///
/// wit-bindgen does not define it for wasm32-wasip2, where it expects std (through the `wasi`
/// crate) to; this crate is `no_std`, so it defines it, over the global allocator.
///
/// # Safety
/// Called by the component model's canonical ABI with valid `(old_ptr, old_len, align)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use alloc::alloc::{alloc, realloc, Layout};
    let ptr = unsafe {
        if old_len == 0 {
            if new_len == 0 {
                return align as *mut u8;
            }
            alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if ptr.is_null() {
        core::arch::wasm32::unreachable();
    }
    ptr
}

// `memcmp` (used by core for slice and string comparisons) is not in core: wasm32-wasip2 expects
// it from wasi-libc. Link wasi-libc's `libc.a` (shipped with the target, "self-contained"): only
// the pure functions referenced (memcmp) are pulled in, nothing that imports WASI.
#[link(name = "c")]
unsafe extern "C" {}
