// Prepare a photo on the phone before it is stored: read its EXIF time and position, downscale
// it so that its long side is at most settings.maxLongSide pixels, encode it as JPEG, and hash
// the bytes that will be uploaded. createImageBitmap applies the EXIF orientation, so the JPEG
// comes out upright. A file the browser cannot decode (HEIC on most Android browsers) is kept
// as it is, and the server converts it.
(function (global) {
  "use strict";

  function canvasOf(width, height) {
    if (typeof global.OffscreenCanvas === "function") {
      return new global.OffscreenCanvas(width, height);
    }
    var canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    return canvas;
  }

  function encode(canvas, quality) {
    if (canvas.convertToBlob) {
      return canvas.convertToBlob({ type: "image/jpeg", quality: quality });
    }
    return new Promise(function (resolve, reject) {
      canvas.toBlob(function (blob) {
        if (blob) {
          resolve(blob);
        } else {
          reject(new Error("the browser could not encode the photo"));
        }
      }, "image/jpeg", quality);
    });
  }

  function downscale(file, settings) {
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, settings.maxLongSide / Math.max(bitmap.width, bitmap.height));
      var width = Math.max(1, Math.round(bitmap.width * scale));
      var height = Math.max(1, Math.round(bitmap.height * scale));
      var canvas = canvasOf(width, height);
      var context = canvas.getContext("2d");
      context.imageSmoothingEnabled = true;
      context.imageSmoothingQuality = "high";
      context.drawImage(bitmap, 0, 0, width, height);
      if (bitmap.close) {
        bitmap.close();
      }
      return encode(canvas, settings.quality).then(function (blob) {
        return { blob: blob, width: width, height: height };
      });
    });
  }

  // Resolve to {blob, sha256, width, height, bytes, originalBytes, takenAt, latitude, longitude}.
  // Rejects when the file is not an image at all.
  function preparePhoto(file, settings) {
    var exifRead = global.FieldApp.readExif(file);
    var scaled = downscale(file, settings).catch(function (error) {
      if (file.type && file.type.indexOf("image/") !== 0) {
        throw error;
      }
      // Not decodable here (HEIC, or too large for this phone's memory): send the original.
      return { blob: file, width: null, height: null };
    });
    return Promise.all([exifRead, scaled]).then(function (results) {
      var exif = results[0];
      var image = results[1];
      return image.blob.arrayBuffer().then(global.FieldApp.sha256).then(function (sha256) {
        return {
          blob: image.blob,
          sha256: sha256,
          width: image.width,
          height: image.height,
          bytes: image.blob.size,
          originalBytes: file.size,
          takenAt: exif.takenAt,
          latitude: exif.latitude,
          longitude: exif.longitude
        };
      });
    });
  }

  global.FieldApp = global.FieldApp || {};
  global.FieldApp.preparePhoto = preparePhoto;
})(self);
