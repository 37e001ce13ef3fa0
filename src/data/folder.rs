//! `data.name = "folder"`: an image-folder tree, `data.dir/<class>/<image>.png|jpg|jpeg`. The
//! sub-folders, sorted by name, are the classes 0, 1, ...; every PNG or JPEG image in one (by
//! extension, any case; other files are skipped) is resized to `data.image_size` squared
//! (bilinear) and kept with 1 channel when grayscale, 3 otherwise. The tree is one pool: the test
//! set is held out from it by `data.holdout` and `data.seed`.

use super::own::{decode, invalid, split_set, stack_decoded};
use super::{DataError, Dataset};
use std::path::{Path, PathBuf};

const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Entries of a folder, sorted by name (hidden ones skipped).
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::Io { path: dir.to_path_buf(), source: e })?;
    let mut v = vec![];
    for e in rd {
        let e = e.map_err(|e| DataError::Io { path: dir.to_path_buf(), source: e })?;
        if !e.file_name().to_string_lossy().starts_with('.') {
            v.push(e.path());
        }
    }
    v.sort();
    Ok(v)
}

fn is_image(p: &Path) -> bool {
    let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    p.is_file() && IMAGE_EXTENSIONS.contains(&ext.as_str())
}

/// The whole tree as one training pool, images in `[0, 1]` (normalized after the split).
pub(crate) fn load_pool(dir: &Path, size: usize) -> Result<Dataset, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingDir {
            dir: dir.to_path_buf(),
            expected: "one sub-folder of PNG/JPEG images per class".into(),
        });
    }
    let classes: Vec<PathBuf> = sorted_entries(dir)?.into_iter().filter(|p| p.is_dir()).collect();
    if classes.len() < 2 {
        return Err(invalid(
            dir,
            format!(
                "holds {} class sub-folder(s): an image folder needs one sub-folder per class, at least 2",
                classes.len()
            ),
        ));
    }
    let (mut decoded, mut labels) = (vec![], vec![]);
    for (label, class) in classes.iter().enumerate() {
        let images: Vec<PathBuf> = sorted_entries(class)?.into_iter().filter(|p| is_image(p)).collect();
        if images.is_empty() {
            return Err(invalid(class, "class folder holds no PNG or JPEG images (.png, .jpg, .jpeg)"));
        }
        for p in images {
            let bytes = std::fs::read(&p).map_err(|e| DataError::Io { path: p.clone(), source: e })?;
            decoded.push(decode(&bytes, size as u32, &p.display())?);
            labels.push(label as i64);
        }
    }
    split_set(dir, "train", stack_decoded(decoded, size), &labels, vec![])
}
