// SHA-256 of an ArrayBuffer as lower-case hex. Uses crypto.subtle where the browser offers it,
// which is only in a secure context (HTTPS, or http://127.0.0.1 and localhost). On plain http
// to a LAN address it falls back to the implementation below (FIPS 180-4).
(function (global) {
  "use strict";

  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);

  function hex(words) {
    var out = "";
    for (var i = 0; i < words.length; i += 1) {
      out += (words[i] >>> 0).toString(16).padStart(8, "0");
    }
    return out;
  }

  // Compress the 64-byte blocks of bytes[offset, offset + length) into the hash state h.
  function compress(h, bytes, offset, length, w) {
    for (var block = offset; block < offset + length; block += 64) {
      for (var t = 0; t < 16; t += 1) {
        var j = block + t * 4;
        w[t] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
      }
      for (t = 16; t < 64; t += 1) {
        var x = w[t - 15];
        var y = w[t - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (t = 0; t < 64; t += 1) {
        var sum1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var choice = (e & f) ^ (~e & g);
        var temp1 = (k + sum1 + choice + K[t] + w[t]) | 0;
        var sum0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var majority = (a & b) ^ (a & c) ^ (b & c);
        var temp2 = (sum0 + majority) | 0;
        k = g;
        g = f;
        f = e;
        e = (d + temp1) | 0;
        d = c;
        c = b;
        b = a;
        a = (temp1 + temp2) | 0;
      }
      h[0] = (h[0] + a) | 0;
      h[1] = (h[1] + b) | 0;
      h[2] = (h[2] + c) | 0;
      h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0;
      h[5] = (h[5] + f) | 0;
      h[6] = (h[6] + g) | 0;
      h[7] = (h[7] + k) | 0;
    }
  }

  function sha256Fallback(buffer) {
    var bytes = new Uint8Array(buffer);
    var h = new Int32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    ]);
    var w = new Int32Array(64);
    var whole = bytes.length - (bytes.length % 64);
    compress(h, bytes, 0, whole, w);

    // The last block(s): the remaining bytes, 0x80, zeros, and the length in bits (big-endian).
    var tailLength = bytes.length - whole;
    var tail = new Uint8Array(tailLength < 56 ? 64 : 128);
    tail.set(bytes.subarray(whole));
    tail[tailLength] = 0x80;
    var bits = bytes.length * 8;
    var view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
    view.setUint32(tail.length - 4, bits >>> 0);
    compress(h, tail, 0, tail.length, w);
    return hex(h);
  }

  function sha256(buffer) {
    var subtle = global.crypto && global.crypto.subtle;
    if (subtle && global.isSecureContext !== false) {
      return subtle.digest("SHA-256", buffer).then(function (digest) {
        return Array.prototype.map.call(new Uint8Array(digest), function (byte) {
          return (byte + 0x100).toString(16).slice(1);
        }).join("");
      }, function () {
        return sha256Fallback(buffer);
      });
    }
    return Promise.resolve(sha256Fallback(buffer));
  }

  global.FieldApp = global.FieldApp || {};
  global.FieldApp.sha256 = sha256;
  global.FieldApp.sha256Fallback = sha256Fallback;
})(self);
