"""What the suite knows about the public datasets: archives, checksums, expected counts, and the
terms their images come under.

The counts are those of the releases every re-ID paper reports on (and that torchreid,
fast-reid and BoT check): a mismatch means a damaged or different packaging. MSMT17 and
CUHK03-NP come in layouts of their own, which reid.data.convert turns into the Market-1501
layout once, at fetch time; their counts are those of the converted folders. The licence and
withdrawal texts are what a model card (reid.card) says about the data a model was trained on;
they are written here once, beside the dataset they describe.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

SPLITS = ("bounding_box_train", "query", "bounding_box_test")


@dataclass(frozen=True)
class SplitCount:
    images: int  # This counts images after junk (pid -1) removal.
    ids: int


@dataclass(frozen=True)
class Subset:
    """One of a dataset's subsets, each a folder in Market-1501 layout with counts of its own."""

    counts: dict[str, SplitCount]
    gallery_files: int


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    archive_name: str
    md5: str
    urls: tuple[str, ...]
    top_dir: str  # This folder inside the archive holds the three splits.
    counts: dict[str, SplitCount]
    gallery_files: int  # This counts the files in bounding_box_test before junk removal.
    # Market's md5 is well known and its zip never changed; DukeMTMC-reID was withdrawn and
    # circulates in several repackagings, so a different md5 with exact counts only warns.
    strict_md5: bool = True
    # The archive's own layout, which reid.data.convert turns into the suite's: "market1501" (it
    # already is in it), "msmt17" (list files name each split's images) or "cuhk03_np" (subsets).
    layout: str = "market1501"
    # The drop location root/<archive_name> also takes these names, since MSMT17 has two versions.
    other_archive_names: tuple[str, ...] = ()
    # This says where to ask for an archive that its authors give out on request only.
    request: str = ""
    # CUHK03-NP holds two subsets (hand-drawn and detected boxes) with counts of their own; the
    # config's `boxes` picks one, and ``subset_spec`` gives its spec. Its own counts are then empty.
    subsets: dict[str, Subset] = field(default_factory=dict)
    homepage: str = ""
    note: str = ""
    num_cameras: int = field(default=0)
    # These are the terms under which the images may be used, as far as the suite knows them.
    licence: str = ""
    # This says why the dataset has no download any more, where its authors took it down.
    withdrawn: str = ""


def subset_spec(spec: DatasetSpec, name: str) -> DatasetSpec:
    """Return the spec of one subset of ``spec``: the same dataset with that subset's counts and
    no subsets, so that everything that checks a Market-1501-layout folder can check it."""
    part = spec.subsets[name]
    return replace(spec, counts=part.counts, gallery_files=part.gallery_files, subsets={})


CATALOG: dict[str, DatasetSpec] = {
    "market1501": DatasetSpec(
        name="market1501",
        archive_name="Market-1501-v15.09.15.zip",
        md5="65005ab7d12ec1c44de4eeafe813e68a",
        urls=(
            # This is the authors' Google Drive file (the link on the Market-1501 page).
            "https://drive.usercontent.google.com/download?id=0B8-rUzbwVRk0c054eEozWG9COHM&export=download&confirm=t",
            # This is the mirror that torchreid and the Person_reID_baseline tutorial have used.
            "http://188.138.127.15:81/Datasets/Market-1501-v15.09.15.zip",
        ),
        top_dir="Market-1501-v15.09.15",
        counts={
            "bounding_box_train": SplitCount(images=12936, ids=751),
            "query": SplitCount(images=3368, ids=750),
            # Of 19,732 files, 3,819 junk (-1) are removed; distractors (0000) stay as negatives.
            "bounding_box_test": SplitCount(images=15913, ids=751),
        },
        gallery_files=19732,
        homepage="https://zheng-lab-anu.github.io/Project/project_reid.html",
        note="Zheng et al., Scalable Person Re-identification: A Benchmark, ICCV 2015.",
        num_cameras=6,
        licence=(
            "Released by its authors for non-commercial research use only, under their terms (see the "
            "dataset's page). Its images show real people filmed in a public place on a university campus."
        ),
    ),
    "dukemtmcreid": DatasetSpec(
        name="dukemtmcreid",
        archive_name="DukeMTMC-reID.zip",
        md5="2f93496f9b516d1ee5ef51c1d5e7d601",
        urls=(),  # Its authors withdrew it in 2019, so only a user-supplied archive is accepted.
        top_dir="DukeMTMC-reID",
        counts={
            "bounding_box_train": SplitCount(images=16522, ids=702),
            "query": SplitCount(images=2228, ids=702),
            # The gallery has 702 query identities plus 408 distractor identities.
            "bounding_box_test": SplitCount(images=17661, ids=1110),
        },
        gallery_files=17661,
        strict_md5=False,
        homepage="https://github.com/layumi/DukeMTMC-reID_evaluation",
        note=(
            "Zheng, Zheng, Yang, Unlabeled samples generated by GAN improve the person "
            "re-identification baseline in vitro, ICCV 2017. Withdrawn by the DukeMTMC "
            "authors in 2019; bring your own copy."
        ),
        num_cameras=8,
        licence=(
            "Released for non-commercial research use only, under the terms of DukeMTMC's authors. Its "
            "images show real people filmed in a public place on a university campus."
        ),
        withdrawn=(
            "DukeMTMC-reID was withdrawn by its authors in 2019 (together with DukeMTMC) and has no "
            "official download any more; the suite only uses a copy you already have."
        ),
    ),
    "msmt17": DatasetSpec(
        name="msmt17",
        archive_name="MSMT17_V2.zip",
        md5="",  # No md5 is published, and copies circulate in several packagings: the counts decide.
        urls=(),  # It is given out on request only, so only a user-supplied archive is accepted.
        top_dir="MSMT17_V2",  # or MSMT17_V1: reid.data.convert reads the version from the archive.
        counts={
            # list_train.txt and list_val.txt together, as the published 32,621 count them.
            "bounding_box_train": SplitCount(images=32621, ids=1041),
            "query": SplitCount(images=11659, ids=3060),
            "bounding_box_test": SplitCount(images=82161, ids=3060),
        },
        gallery_files=82161,
        strict_md5=False,
        layout="msmt17",
        other_archive_names=("MSMT17_V1.zip",),
        request=(
            "MSMT17 is given out by its authors (Peking University) on request only, so it has no "
            "download URL: request it (MSMT17_V2, with blurred faces, or MSMT17_V1) on its page, "
            "http://www.pkuvmc.com/publications/msmt17.html, and agree to its terms of use."
        ),
        homepage="http://www.pkuvmc.com/publications/msmt17.html",
        note="Wei, Zhang, Gao, Tian, Person Transfer GAN to Bridge Domain Gap for Person Re-Identification, CVPR 2018.",
        num_cameras=15,
        licence=(
            "Given out by its authors on request, for non-commercial research use only, under the terms "
            "of use agreed when requesting it. Its images show real people filmed in public on a university "
            "campus (V2 blurs their faces)."
        ),
    ),
    "cuhk03_np": DatasetSpec(
        name="cuhk03_np",
        archive_name="cuhk03-np.zip",
        md5="",  # No md5 is published for the repackaging, so the counts decide.
        urls=(),  # CUHK03 is given out on request only, so only a user-supplied archive is accepted.
        top_dir="cuhk03-np",
        counts={},  # Each subset has counts of its own (subsets below).
        gallery_files=0,
        strict_md5=False,
        layout="cuhk03_np",
        request=(
            "CUHK03 is given out by its authors (the Chinese University of Hong Kong) on request only, "
            "so it has no download URL: request it on http://www.ee.cuhk.edu.hk/~xgwang/CUHK_identification.html "
            "and agree to its terms of use. The CUHK03-NP page, "
            "https://github.com/zhunzhong07/person-re-ranking/tree/master/CUHK03-NP, describes the new "
            "protocol's split, whose cuhk03-np release holds labeled/ and detected/ in Market-1501 layout."
        ),
        subsets={
            "labeled": Subset(
                counts={
                    "bounding_box_train": SplitCount(images=7368, ids=767),
                    "query": SplitCount(images=1400, ids=700),
                    "bounding_box_test": SplitCount(images=5328, ids=700),
                },
                gallery_files=5328,
            ),
            "detected": Subset(
                counts={
                    "bounding_box_train": SplitCount(images=7365, ids=767),
                    "query": SplitCount(images=1400, ids=700),
                    "bounding_box_test": SplitCount(images=5332, ids=700),
                },
                gallery_files=5332,
            ),
        },
        homepage="https://github.com/zhunzhong07/person-re-ranking/tree/master/CUHK03-NP",
        note=(
            "Li, Zhao, Xiao, Wang, DeepReID: Deep Filter Pairing Neural Network for Person "
            "Re-identification, CVPR 2014; the new protocol (767 training and 700 test identities) of "
            "Zhong, Zheng, Cao, Li, Re-ranking Person Re-identification with k-reciprocal Encoding, CVPR 2017."
        ),
        num_cameras=2,  # The names give each image's view of its identity's camera pair: c1 or c2.
        licence=(
            "CUHK03 is given out by its authors on request, for non-commercial research use only, under the "
            "terms agreed when requesting it. Its images show real people filmed in public on a university campus."
        ),
    ),
}

# The sets the catalog does not hold: the suite's own rendered set, and a user's folder, whose
# terms only its owner knows.
SYNTHETIC_LICENCE = (
    "Rendered by the suite itself (reid.data.synthetic): no real people are shown, and its images come "
    "with no restrictions."
)
CUSTOM_LICENCE = "Unknown to the suite: the terms of the dataset's owner apply."


def licence_of(name: str) -> str:
    """Return the terms under which dataset ``name``'s images may be used, as far as the suite knows them."""
    if name in CATALOG:
        return CATALOG[name].licence
    return SYNTHETIC_LICENCE if name == "synthetic" else CUSTOM_LICENCE


def withdrawal_of(name: str) -> str:
    """Return why dataset ``name`` has no download any more, or "" when its authors never took it down."""
    return CATALOG[name].withdrawn if name in CATALOG else ""
