//! Your own data (`data.name = "tensors"`, `"folder"`, `"parquet"`): each format trains a built-in
//! net through the library, inputs of any shape reach the MLP, an architecture that cannot take
//! the data's shape is refused naming both shapes, and every malformed input is an error that
//! names what is wrong and where. All files are tiny and generated here in a temporary folder.

use arrow_array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field};
use npyz::WriterBuilder;
use safetensors::{Dtype, tensor::TensorView};
use silab::config::RunConfig;
use silab::data;
use silab::progress::Silent;
use silab::store;
use silab::training;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A config of tiny, fast runs on own data with `sets` on top.
fn cfg(sets: &[String]) -> RunConfig {
    let base = [
        "data.train_size=0",
        "data.test_size=0",
        "model.width=2",
        "train.batch_size=16",
        "train.epochs=2",
        "train.threads=1",
        "optim.elr=1e-3",
    ];
    let all: Vec<String> = base.iter().map(|s| s.to_string()).chain(sets.iter().cloned()).collect();
    RunConfig::from_parts(None, &all).unwrap()
}

fn tensors_cfg(file: &Path, sets: &[&str]) -> RunConfig {
    let mut v = vec!["data.name=\"tensors\"".to_string(), format!("data.file=\"{}\"", file.display())];
    v.extend(sets.iter().map(|s| s.to_string()));
    cfg(&v)
}

/// Deterministic inputs whose mean depends on the class: `n` rows of `shape`, labels `i % classes`.
fn rows(n: usize, shape: &[usize], classes: usize, seed: u64) -> (Vec<f32>, Vec<i64>) {
    let d: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut x = Vec::with_capacity(n * d);
    let labels: Vec<i64> = (0..n).map(|i| (i % classes) as i64).collect();
    for &l in &labels {
        for _ in 0..d {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (s >> 40) as f32 / (1u64 << 24) as f32;
            x.push(u + 0.5 * l as f32);
        }
    }
    (x, labels)
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i64_bytes(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// An array to write: its dtype, shape and little-endian bytes.
type Arr = (Dtype, Vec<usize>, Vec<u8>);

fn f32_arr(shape: &[usize], v: &[f32]) -> Arr {
    (Dtype::F32, shape.to_vec(), f32_bytes(v))
}

fn i64_arr(v: &[i64]) -> Arr {
    (Dtype::I64, vec![v.len()], i64_bytes(v))
}

fn write_safetensors(path: &Path, arrays: Vec<(&str, Arr)>) {
    let views: Vec<(String, TensorView)> =
        arrays.iter().map(|(n, (d, s, b))| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// The four arrays of a well-formed file: `n_train` and `n_test` rows of `shape`.
fn split_arrays(shape: &[usize], n_train: usize, n_test: usize, classes: usize) -> Vec<(&'static str, Arr)> {
    let full = |n: usize| [&[n][..], shape].concat();
    let (xt, yt) = rows(n_train, shape, classes, 1);
    let (xs, ys) = rows(n_test, shape, classes, 2);
    vec![
        ("x_train", f32_arr(&full(n_train), &xt)),
        ("y_train", i64_arr(&yt)),
        ("x_test", f32_arr(&full(n_test), &xs)),
        ("y_test", i64_arr(&ys)),
    ]
}

fn safetensors_file(dir: &Path, arrays: Vec<(&str, Arr)>) -> PathBuf {
    let p = dir.join("data.safetensors");
    write_safetensors(&p, arrays);
    p
}

/// One npz array: `u8`, `f32`, `f64` or `i64` values.
enum Npy {
    U8(Vec<u8>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
}

fn write_npz(path: &Path, arrays: Vec<(&str, Vec<u64>, Npy)>) {
    let mut w = npyz::npz::NpzWriter::create(path).unwrap();
    for (name, shape, values) in arrays {
        macro_rules! put {
            ($t:ty, $v:expr) => {{
                let mut a =
                    w.array::<$t>(name, Default::default()).unwrap().default_dtype().shape(&shape).begin_nd().unwrap();
                a.extend($v).unwrap();
                a.finish().unwrap();
            }};
        }
        match values {
            Npy::U8(v) => put!(u8, v),
            Npy::F32(v) => put!(f32, v),
            Npy::F64(v) => put!(f64, v),
            Npy::I64(v) => put!(i64, v),
        }
    }
}

/// The error of loading the data of `c`, as text.
fn load_err(c: &RunConfig) -> String {
    match data::load(&c.data) {
        Ok(_) => panic!("the data loaded; expected an error"),
        Err(e) => e.to_string(),
    }
}

fn assert_has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "the message {msg:?} does not name {p:?}");
    }
}

/// Train `c` into a fresh folder and check the metrics file has finite training losses; the
/// folder (`run` in the returned one) is kept while the returned value lives.
fn trains(c: &RunConfig) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("run");
    training::train(c, &out, &mut Silent).unwrap_or_else(|e| panic!("training failed: {e:#}"));
    let r = store::read_records(&out.join("metrics.csv"), false).unwrap();
    let i = r.header.iter().position(|h| h == "train_loss").unwrap();
    let k = r.header.iter().position(|h| h == "row").unwrap();
    let losses: Vec<f64> = r.rows.iter().filter(|row| row[k] == "epoch").map(|row| row[i].parse().unwrap()).collect();
    assert_eq!(losses.len(), 3, "epoch rows 0, 1, 2");
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    root
}

/// The error of training `c`, with its causes.
fn train_err(c: &RunConfig) -> String {
    let root = tempfile::tempdir().unwrap();
    match training::train(c, &root.path().join("run"), &mut Silent) {
        Ok(_) => panic!("the run trained; expected an error"),
        Err(e) => format!("{:#}", anyhow::Error::from(e)),
    }
}

#[test]
fn safetensors_images_train_the_convnet() {
    let dir = tempfile::tempdir().unwrap();
    let f = safetensors_file(dir.path(), split_arrays(&[3, 32, 32], 40, 20, 3));
    let run = trains(&tensors_cfg(&f, &[]));
    // the net is built again from the data's shape when the run is trained longer
    let s = training::extend(&run.path().join("run"), 3, &mut Silent).unwrap();
    assert_eq!(s.epochs_done, 3);
    let d = data::load(&tensors_cfg(&f, &[]).data).unwrap();
    assert_eq!((d.train.len(), d.test.len(), d.train.classes), (40, 20, 3));
    assert_eq!(d.train.input_shape(), vec![3, 32, 32]);
}

#[test]
fn npz_u8_vectors_with_mean_and_std_train_the_mlp() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("vec.npz");
    let (n, m, dim) = (48u64, 16u64, 10u64);
    let x = |n: u64| (0..n * dim).map(|i| ((i * 37) % 256) as u8).collect::<Vec<u8>>();
    let y = |n: u64| (0..n).map(|i| (i % 4) as i64).collect::<Vec<i64>>();
    write_npz(
        &p,
        vec![
            ("x_train", vec![n, dim], Npy::U8(x(n))),
            ("y_train", vec![n], Npy::I64(y(n))),
            ("x_test", vec![m, dim], Npy::U8(x(m))),
            ("y_test", vec![m], Npy::I64(y(m))),
            ("mean", vec![dim], Npy::F64(vec![0.5; dim as usize])),
            ("std", vec![dim], Npy::F32(vec![0.25; dim as usize])),
        ],
    );
    let c = tensors_cfg(&p, &["model.arch=\"mlp\"", "model.width=8"]);
    let d = data::load(&c.data).unwrap();
    assert_eq!(d.train.images.size(), vec![48, 10]);
    assert_eq!(d.train.classes, 4);
    // uint8 / 255, then (x - 0.5) / 0.25: the first value is 0 -> -2
    assert!((d.train.images.double_value(&[0, 0]) + 2.0).abs() < 1e-6);
    trains(&c);
    // augmentation needs images
    let e = load_err(&tensors_cfg(&p, &["data.augment=true"]));
    assert_has(&e, &["data.augment", "[10]"]);
}

#[test]
fn mnist_shaped_data_trains_the_mlp_and_the_convnet_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let f = safetensors_file(dir.path(), split_arrays(&[1, 28, 28], 32, 16, 2));
    trains(&tensors_cfg(&f, &["model.arch=\"mlp\"", "model.width=8"]));
    let e = train_err(&tensors_cfg(&f, &["model.arch=\"convnet\""]));
    assert_has(&e, &["model.arch = \"convnet\" takes inputs [C, 32, 32]", "[1, 28, 28]"]);
    let e = train_err(&tensors_cfg(&f, &["model.arch=\"vit\"", "model.patch=8"]));
    assert_has(&e, &["model.arch = \"vit\"", "model.patch = 8", "[1, 28, 28]"]);
    // with a patch dividing 28 the ViT takes it, augmentation included (crops of 28 x 28)
    trains(&tensors_cfg(
        &f,
        &["model.arch=\"vit\"", "model.patch=7", "model.dim=8", "model.heads=2", "model.depth=1", "data.augment=true"],
    ));
}

#[test]
fn a_missing_array_names_the_file_and_the_arrays_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = split_arrays(&[4], 8, 4, 2);
    a.retain(|(n, _)| *n != "y_test");
    let f = safetensors_file(dir.path(), a);
    let e = load_err(&tensors_cfg(&f, &[]));
    assert_has(&e, &["data.safetensors", "no array `y_test`", "[x_test, x_train, y_train]"]);
}

#[test]
fn inputs_and_labels_of_different_lengths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = split_arrays(&[4], 8, 4, 2);
    a[1] = ("y_train", i64_arr(&[0, 1, 0, 1, 0, 1, 0]));
    let f = safetensors_file(dir.path(), a);
    assert_has(&load_err(&tensors_cfg(&f, &[])), &["train split has 8 inputs but 7 labels"]);
}

#[test]
fn negative_and_huge_labels_name_the_row_and_split() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = split_arrays(&[4], 8, 4, 2);
    a[3] = ("y_test", i64_arr(&[0, 1, -1, 0]));
    let f = safetensors_file(dir.path(), a);
    assert_has(&load_err(&tensors_cfg(&f, &[])), &["label -1 at row 2 of the test split is out of range"]);
    let mut a = split_arrays(&[4], 8, 4, 2);
    a[1] = ("y_train", i64_arr(&[0, 1, 0, 1, 0, 1, 0, 1 << 40]));
    let f = safetensors_file(dir.path(), a);
    assert_has(&load_err(&tensors_cfg(&f, &[])), &["at row 7 of the train split is out of range"]);
}

#[test]
fn nan_and_inf_inputs_name_the_split_and_first_row() {
    let dir = tempfile::tempdir().unwrap();
    let (mut x, y) = rows(8, &[4], 2, 1);
    x[4 * 5 + 2] = f32::NAN;
    x[4 * 6] = f32::INFINITY;
    let mut a = split_arrays(&[4], 8, 4, 2);
    a[0] = ("x_train", f32_arr(&[8, 4], &x));
    a[1] = ("y_train", i64_arr(&y));
    let f = safetensors_file(dir.path(), a);
    assert_has(&load_err(&tensors_cfg(&f, &[])), &["train split has NaN or infinite inputs (first at row 5)"]);
}

#[test]
fn an_empty_split_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let f = safetensors_file(dir.path(), split_arrays(&[4], 8, 0, 2));
    assert_has(&load_err(&tensors_cfg(&f, &[])), &["data.safetensors", "the test split is empty"]);
}

#[test]
fn input_dtypes_other_than_f32_and_u8_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = split_arrays(&[2], 4, 4, 2);
    a[0] = ("x_train", (Dtype::F64, vec![4, 2], vec![0u8; 64]));
    let f = safetensors_file(dir.path(), a);
    assert_has(&load_err(&tensors_cfg(&f, &[])), &["x_train has dtype float64", "float32 or uint8"]);
    let p = dir.path().join("d.npz");
    let y = Npy::I64(vec![0, 1, 0, 1]);
    write_npz(
        &p,
        vec![
            ("x_train", vec![4, 2], Npy::I64(vec![1; 8])),
            ("y_train", vec![4], y),
            ("x_test", vec![4, 2], Npy::F32(vec![0.0; 8])),
            ("y_test", vec![4], Npy::I64(vec![0, 1, 0, 1])),
        ],
    );
    assert_has(&load_err(&tensors_cfg(&p, &[])), &["x_train has dtype an integer type"]);
    // float labels
    let mut a = split_arrays(&[2], 4, 4, 2);
    a[1] = ("y_train", f32_arr(&[4], &[0.0, 1.0, 0.0, 1.0]));
    let f = safetensors_file(dir.path(), a);
    assert_has(&load_err(&tensors_cfg(&f, &[])), &["y_train holds floats; labels must be integers"]);
}

#[test]
fn train_and_test_inputs_of_different_shapes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = split_arrays(&[4], 8, 4, 2);
    a[2] = ("x_test", f32_arr(&[4, 5], &[0.0; 20]));
    let f = safetensors_file(dir.path(), a);
    assert_has(&load_err(&tensors_cfg(&f, &[])), &["[4]", "[5]", "must be the same"]);
}

/// A class folder of `n` PNG (grayscale) or JPEG (colour) images of `size` pixels.
fn class_folder(dir: &Path, name: &str, n: usize, size: u32, shade: u8, jpeg: bool) {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    for i in 0..n {
        let v = shade.wrapping_add((i * 7) as u8);
        if jpeg {
            let img = image::RgbImage::from_fn(size, size, |x, y| image::Rgb([v, (x * 5) as u8, (y * 3) as u8]));
            img.save(d.join(format!("{i}.jpg"))).unwrap();
        } else {
            let img = image::GrayImage::from_fn(size, size, |x, y| image::Luma([v.wrapping_add((x + y) as u8)]));
            img.save(d.join(format!("{i}.png"))).unwrap();
        }
    }
}

fn folder_cfg(dir: &Path, sets: &[&str]) -> RunConfig {
    let mut v =
        vec!["data.name=\"folder\"".to_string(), format!("data.dir=\"{}\"", dir.display()), "data.holdout=6".into()];
    v.extend(sets.iter().map(|s| s.to_string()));
    cfg(&v)
}

#[test]
fn an_image_folder_trains_the_convnet_normalized_by_its_training_split() {
    let dir = tempfile::tempdir().unwrap();
    class_folder(dir.path(), "cat", 12, 20, 10, false);
    class_folder(dir.path(), "dog", 12, 40, 200, true);
    std::fs::write(dir.path().join("dog").join("notes.txt"), "skipped").unwrap();
    let c = folder_cfg(dir.path(), &[]);
    let d = data::load(&c.data).unwrap();
    // colour and grayscale mixed: all in colour, resized to 32 x 32 (data.image_size)
    assert_eq!(d.train.images.size(), vec![18, 3, 32, 32]);
    assert_eq!((d.test.len(), d.train.classes), (6, 2));
    // normalized by the training split: mean 0 and std 1 per channel there
    let m = d.train.images.mean_dim([0i64, 2, 3].as_slice(), false, tch::Kind::Double);
    assert!(m.abs().max().double_value(&[]) < 1e-4);
    assert!(d.notes.iter().any(|n| n.contains("per-channel normalization") && n.contains("18 training images")));
    let run = trains(&c);
    let log = std::fs::read_to_string(run.path().join("run").join("log.txt")).unwrap();
    assert!(log.contains("per-channel normalization from them: mean ["), "{log}");
    // an MLP at another image size
    let c = folder_cfg(dir.path(), &["data.image_size=12", "model.arch=\"mlp\"", "model.width=8"]);
    assert_eq!(data::load(&c.data).unwrap().train.input_shape(), vec![3, 12, 12]);
}

#[test]
fn folder_errors_name_the_folder_or_file() {
    let dir = tempfile::tempdir().unwrap();
    class_folder(dir.path(), "a", 4, 8, 0, false);
    class_folder(dir.path(), "b", 0, 8, 0, false);
    let e = load_err(&folder_cfg(dir.path(), &["data.holdout=1"]));
    assert_has(&e, &[&dir.path().join("b").display().to_string(), "class folder holds no PNG or JPEG images"]);
    class_folder(dir.path(), "b", 3, 8, 0, true);
    std::fs::write(dir.path().join("b").join("broken.png"), b"not an image").unwrap();
    let e = load_err(&folder_cfg(dir.path(), &["data.holdout=1"]));
    assert_has(&e, &["broken.png", "cannot be read as a PNG or JPEG image"]);
    // an image folder has no test split: the holdout is required
    let e = RunConfig::from_parts(None, &["data.name=\"folder\"".into(), "data.dir=\"x\"".into()]).unwrap_err();
    assert_eq!(e.key(), Some("data.holdout"), "{e}");
}

/// A parquet file in the Hugging Face layout: `image` = struct {bytes, path}, `label` int64.
fn parquet_file(path: &Path, n: usize, shade: u8, plain_binary: bool, extra_label: Option<i64>) {
    let pngs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let v = shade.wrapping_add((i * 11) as u8);
            let img = image::RgbImage::from_fn(32, 32, |x, y| image::Rgb([v, (x * 4) as u8, (y * 2 + i as u32) as u8]));
            let mut buf = std::io::Cursor::new(vec![]);
            img.write_to(&mut buf, image::ImageFormat::Png).unwrap();
            buf.into_inner()
        })
        .collect();
    let mut labels: Vec<i64> = (0..n as i64).map(|i| i % 3).collect();
    if let Some(l) = extra_label {
        labels[n - 1] = l;
    }
    let bytes = BinaryArray::from_iter_values(pngs.iter());
    let image: ArrayRef = if plain_binary {
        Arc::new(bytes)
    } else {
        let paths = StringArray::from_iter_values((0..n).map(|i| format!("{i}.png")));
        Arc::new(StructArray::from(vec![
            (Arc::new(Field::new("bytes", DataType::Binary, true)), Arc::new(bytes) as ArrayRef),
            (Arc::new(Field::new("path", DataType::Utf8, true)), Arc::new(paths) as ArrayRef),
        ]))
    };
    let label: ArrayRef = Arc::new(Int64Array::from(labels));
    let batch = RecordBatch::try_from_iter([("image", image), ("label", label)]).unwrap();
    let f = std::fs::File::create(path).unwrap();
    // snappy, as pyarrow and the `datasets` library write by default
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn parquet_cfg(train: &Path, test: Option<&Path>, sets: &[&str]) -> RunConfig {
    let mut v = vec!["data.name=\"parquet\"".to_string(), format!("data.file=\"{}\"", train.display())];
    match test {
        Some(t) => v.push(format!("data.test_file=\"{}\"", t.display())),
        None => v.push("data.holdout=6".into()),
    }
    v.extend(sets.iter().map(|s| s.to_string()));
    cfg(&v)
}

#[test]
fn hugging_face_parquet_trains_the_convnet() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (dir.path().join("train.parquet"), dir.path().join("test.parquet"));
    parquet_file(&train, 30, 0, false, None);
    parquet_file(&test, 12, 50, false, None);
    let c = parquet_cfg(&train, Some(&test), &[]);
    let d = data::load(&c.data).unwrap();
    assert_eq!((d.train.len(), d.test.len(), d.train.classes), (30, 12, 3));
    assert_eq!(d.train.input_shape(), vec![3, 32, 32]);
    trains(&c);
    // plain binary images, the test set held out of the training file
    let plain = dir.path().join("plain.parquet");
    parquet_file(&plain, 30, 0, true, None);
    let d = data::load(&parquet_cfg(&plain, None, &[]).data).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (24, 6));
}

#[test]
fn parquet_errors_name_the_column_or_row() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.parquet");
    parquet_file(&train, 10, 0, false, Some(-3));
    let e = load_err(&parquet_cfg(&train, None, &[]));
    assert_has(&e, &["train.parquet", "label -3 at row 9 of the train split"]);
    let e = load_err(&parquet_cfg(&train, None, &["data.label_column=\"fine_label\""]));
    assert_has(&e, &["no column `fine_label` (data.label_column)", "[image, label]"]);
}

#[test]
fn architectures_say_which_inputs_they_take() {
    let with = |sets: &[&str]| tensors_cfg(Path::new("never-read.npz"), sets).model;
    let c = with(&[]);
    assert!(silab::model::accepts(&c, &[1, 32, 32]).is_ok());
    assert!(silab::model::accepts(&c, &[3, 64, 64]).is_err());
    assert!(silab::model::accepts(&with(&["model.arch=\"resnet18\""]), &[5, 32, 32]).is_ok());
    assert!(silab::model::accepts(&with(&["model.arch=\"resnet18\""]), &[3, 28, 28]).is_err());
    assert!(silab::model::accepts(&with(&["model.arch=\"mlp\""]), &[7]).is_ok());
    assert!(silab::model::accepts(&with(&["model.arch=\"mlp\""]), &[2, 0]).is_err());
    let vit = with(&["model.arch=\"vit\"", "model.patch=4"]);
    assert!(silab::model::accepts(&vit, &[3, 16, 24]).is_ok());
    // a patch that does not divide 32 is refused for the built-in images only
    let e = RunConfig::from_parts(None, &["model.arch=\"vit\"".into(), "model.patch=7".into()]).unwrap_err();
    assert_eq!(e.key(), Some("model.patch"), "{e}");
    let e = silab::model::accepts(&vit, &[3, 18, 24]).unwrap_err().to_string();
    assert_eq!(
        e,
        "model.arch = \"vit\" takes inputs [C, H, W] with H and W multiples of model.patch = 4; the data set gives [3, 18, 24]"
    );
}

#[test]
fn own_data_configs_name_the_key_to_fix() {
    let key = |sets: &[&str]| {
        let s: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        RunConfig::from_parts(None, &s).err().and_then(|e| e.key().map(String::from)).unwrap_or_default()
    };
    assert_eq!(key(&["data.name=\"tensors\""]), "data.file");
    assert_eq!(key(&["data.name=\"parquet\""]), "data.file");
    assert_eq!(key(&["data.name=\"folder\""]), "data.dir");
    assert_eq!(key(&["data.name=\"parquet\"", "data.file=\"t.parquet\""]), "data.holdout");
    assert_eq!(key(&["data.name=\"parquet\"", "data.file=\"t.parquet\"", "data.test_file=\"s.parquet\""]), "");
    let folder = ["data.name=\"folder\"", "data.dir=\"d\"", "data.holdout=5"];
    assert_eq!(key(&folder), "");
    assert_eq!(key(&[&folder[..], &["data.image_size=0"]].concat()), "data.image_size");
    assert_eq!(key(&[&folder[..], &["data.train_split=\"test\""]].concat()), "data.train_split");
    let pq = ["data.name=\"parquet\"", "data.file=\"t.parquet\"", "data.holdout=5", "data.label_column=\"\""];
    assert_eq!(key(&pq), "data.label_column");
}
