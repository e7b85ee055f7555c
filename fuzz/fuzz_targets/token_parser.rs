//! The token parser: any string either parses as a well-formed token of the
//! format or is rejected, without panicking; what parses has the exact shape
//! the format promises, and the scanner only finds strings the parser accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::token::find_tokens;
use tessera_core::TokenFormat;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for prefix in ["tsr", "acme2"] {
        let Ok(format) = TokenFormat::new(prefix) else {
            return;
        };
        if let Ok(parsed) = format.parse(text) {
            assert_eq!(text.len(), format.token_len());
            assert!(text.starts_with(prefix) && text.as_bytes()[prefix.len()] == b'_');
            assert!(text[prefix.len() + 1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric()));
            assert!(text.contains(parsed.id_str()));
            let _ = parsed.secret_hash();
            // The snippet never holds more than the prefix and the last 4.
            let snippet = format.snippet_of(text);
            assert!(snippet.len() <= prefix.len() + 8, "{snippet}");
        }
        for found in find_tokens(&format, text) {
            assert!(format.parse(found).is_ok(), "scanner found a non-token");
        }
    }
});
