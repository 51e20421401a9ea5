module.exports = require('./private-tmpdir').teardown;
