//! The rules a file name must follow before a server may store it.

/// Longest name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 255;

/// Checks an upload name. It must be one path component that cannot escape or hide:
/// 1 to 255 bytes, no `/`, `\` or NUL, no control characters, and no leading `.` (which also
/// rules out `.` and `..`, and keeps clear of the server's hidden partial files).
///
/// ```
/// use unstuck_core::upload::validate_name;
/// assert!(validate_name("photo.jpg").is_ok());
/// assert!(validate_name("../etc/passwd").is_err());
/// assert!(validate_name(".hidden").is_err());
/// ```
pub fn validate_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err("a name has 1 to 255 bytes");
    }
    if name.starts_with('.') {
        return Err("a name may not start with '.'");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err("a name may not contain '/', '\\' or control characters");
    }
    Ok(())
}
