// Redoc's side menu shows its maker's logo from cdn.redoc.ly, with no option to turn it off.
// Our pages load nothing from another host, so that image is taken from our own static files
// instead (the logo's URL is this script's data-logo). Loaded before Redoc's bundle.
(() => {
  const local = document.currentScript.dataset.logo;
  const outside = (value) => String(value).startsWith("https://cdn.redoc.ly/");
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && name === "src" && outside(value)) value = local;
    return setAttribute.call(this, name, value);
  };
  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    ...src,
    set(value) { src.set.call(this, outside(value) ? local : value); },
  });
})();
