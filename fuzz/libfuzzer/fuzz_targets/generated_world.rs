#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| proxyrt_fuzz::generated_world(data));
