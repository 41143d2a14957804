// A small EXIF reader for JPEG photos: the capture time and the GPS position, read before the
// photo is downscaled (a canvas drops the EXIF block). Follows EXIF 2.3 (CIPA DC-008):
// APP1 "Exif\0\0", then a TIFF header, IFD0, and the Exif and GPS sub-IFDs it points to.
// Anything malformed gives null for that value, never an error.
(function (global) {
  "use strict";

  // The APP1 segment is at most 64 KB and comes before the image data.
  var HEAD_BYTES = 128 * 1024;
  var TAG_EXIF_IFD = 0x8769;
  var TAG_GPS_IFD = 0x8825;
  var TAG_DATE_TIME_ORIGINAL = 0x9003;
  var TAG_OFFSET_TIME_ORIGINAL = 0x9011;
  var GPS_LATITUDE_REF = 1;
  var GPS_LATITUDE = 2;
  var GPS_LONGITUDE_REF = 3;
  var GPS_LONGITUDE = 4;
  var GPS_TIME_STAMP = 7;
  var GPS_DATE_STAMP = 0x1d;
  var TYPE_SIZES = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8 };

  // Return the offset of the TIFF header inside the JPEG's Exif APP1 segment, or -1.
  function findTiff(view) {
    if (view.byteLength < 4 || view.getUint16(0) !== 0xffd8) {
      return -1;
    }
    var offset = 2;
    while (offset + 4 <= view.byteLength) {
      var marker = view.getUint16(offset);
      if ((marker & 0xff00) !== 0xff00 || marker === 0xffda) {
        return -1; // not a marker, or start of the image data: no EXIF block before it
      }
      var length = view.getUint16(offset + 2);
      if (marker === 0xffe1 && offset + 10 <= view.byteLength &&
          view.getUint32(offset + 4) === 0x45786966 && view.getUint16(offset + 8) === 0) { // "Exif\0\0"
        return offset + 10;
      }
      offset += 2 + length;
    }
    return -1;
  }

  function Reader(view, tiff) {
    var order = view.getUint16(tiff);
    this.view = view;
    this.tiff = tiff;
    this.little = order === 0x4949; // "II"; "MM" is big-endian
    this.valid = (order === 0x4949 || order === 0x4d4d) && this.u16(tiff + 2) === 42;
  }

  Reader.prototype.u16 = function (offset) { return this.view.getUint16(offset, this.little); };
  Reader.prototype.u32 = function (offset) { return this.view.getUint32(offset, this.little); };

  // Read the entries of the IFD at a TIFF-relative offset: tag -> {type, count, offset}.
  Reader.prototype.ifd = function (relative) {
    var entries = {};
    var start = this.tiff + relative;
    if (relative < 8 || start + 2 > this.view.byteLength) {
      return entries;
    }
    var count = this.u16(start);
    for (var i = 0; i < count; i += 1) {
      var entry = start + 2 + i * 12;
      if (entry + 12 > this.view.byteLength) {
        break;
      }
      var type = this.u16(entry + 2);
      var valueCount = this.u32(entry + 4);
      var size = (TYPE_SIZES[type] || 1) * valueCount;
      var valueOffset = size <= 4 ? entry + 8 : this.tiff + this.u32(entry + 8);
      if (valueOffset + size <= this.view.byteLength) {
        entries[this.u16(entry)] = { type: type, count: valueCount, offset: valueOffset };
      }
    }
    return entries;
  };

  Reader.prototype.text = function (entry) {
    if (!entry || entry.type !== 2) {
      return null;
    }
    var out = "";
    for (var i = 0; i < entry.count; i += 1) {
      var code = this.view.getUint8(entry.offset + i);
      if (code === 0) {
        break;
      }
      out += String.fromCharCode(code);
    }
    return out.trim();
  };

  Reader.prototype.rationals = function (entry) {
    if (!entry || (entry.type !== 5 && entry.type !== 10)) {
      return null;
    }
    var values = [];
    for (var i = 0; i < entry.count; i += 1) {
      var numerator = this.u32(entry.offset + i * 8);
      var denominator = this.u32(entry.offset + i * 8 + 4);
      if (denominator === 0) {
        return null;
      }
      values.push(numerator / denominator);
    }
    return values;
  };

  Reader.prototype.pointer = function (entries, tag) {
    var entry = entries[tag];
    return entry && (entry.type === 4 || entry.type === 13) ? this.u32(entry.offset) : 0;
  };

  function degrees(parts, ref, negative) {
    if (!parts || !parts.length || !ref) {
      return null;
    }
    var value = 0;
    for (var i = 0; i < parts.length && i < 3; i += 1) {
      value += parts[i] / Math.pow(60, i);
    }
    if (!isFinite(value)) {
      return null;
    }
    return ref.toUpperCase() === negative ? -value : value;
  }

  function pad(number) {
    return String(Math.floor(number)).padStart(2, "0");
  }

  // "2026:05:01 10:30:00" and "+08:00" -> "2026-05-01T10:30:00+08:00"; without an offset the time
  // stays local camera time, which the server reads as Asia/Shanghai.
  function isoLocal(stamp, offset) {
    var match = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(stamp || "");
    if (!match || match[1] === "0000") {
      return null;
    }
    var text = match[1] + "-" + match[2] + "-" + match[3] + "T" + match[4] + ":" + match[5] + ":" + match[6];
    return /^[+-]\d{2}:\d{2}$/.test(offset || "") ? text + offset : text;
  }

  function gpsTime(reader, gps) {
    var date = /^(\d{4}):(\d{2}):(\d{2})$/.exec(reader.text(gps[GPS_DATE_STAMP]) || "");
    var time = reader.rationals(gps[GPS_TIME_STAMP]);
    if (!date || !time || time.length !== 3 || !time.every(isFinite)) {
      return null;
    }
    var seconds = time[2];
    return date[1] + "-" + date[2] + "-" + date[3] + "T" + pad(time[0]) + ":" + pad(time[1]) + ":" +
      pad(seconds) + "Z";
  }

  // Read {takenAt, latitude, longitude} from an ArrayBuffer holding the start of a JPEG.
  function parse(buffer) {
    var view = new DataView(buffer);
    var tiff = findTiff(view);
    var result = { takenAt: null, latitude: null, longitude: null };
    if (tiff < 0 || tiff + 8 > view.byteLength) {
      return result;
    }
    var reader = new Reader(view, tiff);
    if (!reader.valid) {
      return result;
    }
    var ifd0 = reader.ifd(reader.u32(tiff + 4));
    var exif = reader.ifd(reader.pointer(ifd0, TAG_EXIF_IFD));
    var gps = reader.ifd(reader.pointer(ifd0, TAG_GPS_IFD));

    var latitude = degrees(reader.rationals(gps[GPS_LATITUDE]), reader.text(gps[GPS_LATITUDE_REF]), "S");
    var longitude = degrees(reader.rationals(gps[GPS_LONGITUDE]), reader.text(gps[GPS_LONGITUDE_REF]), "W");
    if (latitude !== null && longitude !== null && Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180) {
      result.latitude = latitude;
      result.longitude = longitude;
    }
    result.takenAt = gpsTime(reader, gps) ||
      isoLocal(reader.text(exif[TAG_DATE_TIME_ORIGINAL]), reader.text(exif[TAG_OFFSET_TIME_ORIGINAL]));
    return result;
  }

  // Read the EXIF time and position of a photo file (Blob); resolves to nulls when it has none.
  function readExif(blob) {
    return blob.slice(0, HEAD_BYTES).arrayBuffer().then(function (buffer) {
      try {
        return parse(buffer);
      } catch (error) {
        return { takenAt: null, latitude: null, longitude: null };
      }
    });
  }

  global.FieldApp = global.FieldApp || {};
  global.FieldApp.readExif = readExif;
  global.FieldApp.parseExif = parse;
})(self);
