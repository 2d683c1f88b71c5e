// Calibration mode: nudge where the mouth and eye layers sit on a pack's face, keep the values per pack in
// localStorage, and export them as manifest JSON to paste back into the pack.
//
// Keys while enabled: arrows move the selected layer 1 px, Shift+arrows resize it 2 px, Tab switches
// between mouth and eyes.

const STORAGE_PREFIX = "avatar-player:calibration:";
const MOVE_PX = 1;
const RESIZE_PX = 2;
const PARTS = ["mouth", "eyes"];
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

export class Calibration extends EventTarget {
  /**
   * @param {import("./avatar-player.js").AvatarPlayer} player
   * @param {Storage} [storage] where values are kept (default localStorage)
   */
  constructor(player, storage = globalThis.localStorage) {
    super();
    this.player = player;
    this.storage = storage;
    this.enabled = false;
    this.part = "mouth";
  }

  storageKey() {
    return STORAGE_PREFIX + this.player.pack.manifest.id;
  }

  /** Apply the values saved for the loaded pack, if any (call after player.loadPack). */
  applySaved() {
    const saved = this.storage?.getItem(this.storageKey());
    if (!saved) return false;
    let values;
    try {
      values = JSON.parse(saved);
    } catch {
      this.storage.removeItem(this.storageKey()); // a corrupt entry must not break loading the pack
      return false;
    }
    for (const part of PARTS) {
      if (values?.[part]?.anchor && values[part].size) this.player.setLayout(part, values[part]);
    }
    return true;
  }

  save() {
    const values = Object.fromEntries(PARTS.map((part) => [part, this.player.getLayout(part)]));
    this.storage?.setItem(this.storageKey(), JSON.stringify(values));
  }

  /** Forget the saved values and go back to the manifest's anchors. */
  reset() {
    this.storage?.removeItem(this.storageKey());
    const { mouth, eyes } = this.player.pack.manifest;
    this.player.setLayout("mouth", { anchor: mouth.anchor, size: mouth.size });
    this.player.setLayout("eyes", { anchor: eyes.anchor, size: eyes.size });
    this.changed();
  }

  setEnabled(on) {
    this.enabled = on;
    this.player.selection = on ? this.part : null;
    this.changed();
  }

  selectPart(part) {
    this.part = part;
    if (this.enabled) this.player.selection = part;
    this.changed();
  }

  /** Move (dx, dy) or resize (dw, dh) the selected layer, in base-face pixels, and save. */
  adjust({ dx = 0, dy = 0, dw = 0, dh = 0 }) {
    const { anchor, size } = this.player.getLayout(this.part);
    this.player.setLayout(this.part, {
      anchor: { x: anchor.x + dx, y: anchor.y + dy },
      size: { width: size.width + dw, height: size.height + dh },
    });
    this.save();
    this.changed();
  }

  /** Handle a keydown; returns true (and prevents the default) when it was a calibration key. */
  handleKey(event) {
    if (!this.enabled || !this.player.pack || event.ctrlKey || event.metaKey || event.altKey) return false;
    if (event.key === "Tab") {
      this.selectPart(this.part === "mouth" ? "eyes" : "mouth");
    } else if (event.key in ARROWS) {
      const [x, y] = ARROWS[event.key];
      if (event.shiftKey) this.adjust({ dw: x * RESIZE_PX, dh: -y * RESIZE_PX });
      else this.adjust({ dx: x * MOVE_PX, dy: y * MOVE_PX });
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  /** The pack's manifest with the calibrated anchors and sizes, as pretty JSON. */
  manifestJson() {
    const manifest = structuredClone(this.player.pack.manifest);
    for (const part of PARTS) Object.assign(manifest[part], this.player.getLayout(part));
    return JSON.stringify(manifest, null, 2) + "\n";
  }

  changed() {
    this.dispatchEvent(new CustomEvent("change", { detail: { enabled: this.enabled, part: this.part } }));
  }
}
