// Globs of fault rules. In a resource name (`projects/demo/locations/*/connections/**`) `*` matches
// within one segment and `**` across segments, as in gcloud's and Cloud Storage's wildcards, so
// `connections/*` does not reach a connection's links. Method names have no segments to respect:
// there `*` matches any run of characters (`*Connection*`, `google.longrunning.Operations/*`).

export function resourceGlob(glob: string): RegExp {
  return compile(glob, (stars) => (stars >= 2 ? '.*' : '[^/]*'));
}

export function methodGlob(glob: string): RegExp {
  return compile(glob, () => '.*');
}

function compile(glob: string, star: (stars: number) => string): RegExp {
  const source = glob.replace(/\*+|[^*]+/g, (part) => (part.startsWith('*') ? star(part.length) : part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')));
  return new RegExp(`^${source}$`);
}
