#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use deployc::source::FileId;

#[test]
fn checkout_parses() {
    let src = std::fs::read_to_string("examples/checkout.deploy").unwrap();
    let (m, errs) = deployc::syntax::parse(FileId(0), &src);
    assert!(errs.is_empty(), "{errs:?}");
    let m = m.expect("parsed");
    assert_eq!(
        m.items.len(),
        12,
        "{:#?}",
        m.items.iter().map(|i| i.span()).collect::<Vec<_>>()
    );
}
