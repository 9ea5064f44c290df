/* cityhub dashboard: the live city of My Tho from the hub's /api/v1 (docs/operations.md,
 * "Dashboard"). Plain ES2017, no library, no build step, works offline. State comes from
 * /api/v1/sensors, /districts and /alerts, then live from the /api/v1/stream server-sent events;
 * changes are collected and written to the DOM once per animation frame, so 1,000 sensors
 * reporting every few seconds cost one layout per frame, not one per message. */
'use strict';

(function () {
	const TZ = 'Asia/Ho_Chi_Minh';
	/* Must match web/mytho-map.svg: x = (lon - 106.336) * 1e4, y = (10.374 - lat) * 1e4 * 1.0166. */
	const MAP = { lon0: 106.336, lat0: 10.374, k: 1e4, ky: 1e4 * 1.0166, w: 560, h: 346 };
	const HISTORY_STEP = '15m';
	const HISTORY_SINCE = '24h';
	const MAX_HISTORY_FETCHES = 4;
	const DISTRICTS_EVERY_MS = 2000;

	const I18N = {
		vi: {
			title: 'Mỹ Tho – Trung tâm điều hành đô thị', lang_button: 'English',
			conn_wait: 'Đang kết nối…', conn_live: 'Trực tiếp', conn_retry: 'Mất kết nối, đang thử lại…',
			map: 'Bản đồ cảm biến', alerts: 'Cảnh báo đang hoạt động', no_alerts: 'Không có cảnh báo.',
			recent: 'Thay đổi gần đây', districts: 'Phường, xã', sensors: 'Cảm biến', filter: 'Lọc',
			col_state: 'Trạng thái', col_sensor: 'Cảm biến', col_kind: 'Loại', col_district: 'Phường',
			col_values: 'Giá trị mới nhất', col_seen: 'Nhận lúc', col_24h: '24 giờ',
			footer: 'Giờ Việt Nam (Asia/Ho_Chi_Minh). Bản đồ giản lược, chỉ để định hướng.',
			clock: 'Giờ Việt Nam', legend: 'Chú giải', since: 'từ', ago: 'trước', resolved: 'đã hết',
			firing: 'bắt đầu', no_data: 'chưa có dữ liệu', store_down: 'Kho dữ liệu không trả lời',
			err_token: 'Cần mã truy cập: mở trang với ?token=… (mã của http.token).',
			err_api: 'Không đọc được API của hub', river: 'Sông Tiền', canal: 'Kênh Bảo Định',
			lg_aqi: 'VN_AQI (không khí)', lg_sal: 'Độ mặn', lg_level: 'Mực nước sông Tiền',
			lg_other: 'Cảm biến khác: bình thường', lg_stale: 'Trễ hoặc chưa có dữ liệu',
			estimated: 'ước tính từ PM2.5 mới nhất', sensors_n: 'cảm biến', sensor_1: 'cảm biến', max: 'cao nhất',
			worst_aqi: 'VN_AQI xấu nhất', salinity: 'Độ mặn', level: 'Mực nước', sort_hint: 'Sắp xếp',
			s: 'giây', m: 'phút', h: 'giờ', d: 'ngày', level_word: 'mức'
		},
		en: {
			title: 'My Tho – City operations room', lang_button: 'Tiếng Việt',
			conn_wait: 'Connecting…', conn_live: 'Live', conn_retry: 'Connection lost, retrying…',
			map: 'Sensor map', alerts: 'Active alerts', no_alerts: 'No active alerts.',
			recent: 'Recent changes', districts: 'Wards and communes', sensors: 'Sensors', filter: 'Filter',
			col_state: 'State', col_sensor: 'Sensor', col_kind: 'Kind', col_district: 'Ward',
			col_values: 'Latest values', col_seen: 'Received', col_24h: '24 h',
			footer: 'Vietnam time (Asia/Ho_Chi_Minh). Simplified map, for orientation only.',
			clock: 'Vietnam time', legend: 'Legend', since: 'since', ago: 'ago', resolved: 'resolved',
			firing: 'firing', no_data: 'no data yet', store_down: 'The store does not answer',
			err_token: 'An access token is needed: open the page with ?token=… (http.token).',
			err_api: 'Cannot read the hub API', river: 'Tien River', canal: 'Bao Dinh canal',
			lg_aqi: 'VN_AQI (air)', lg_sal: 'Salinity', lg_level: 'Tien River level',
			lg_other: 'Other sensors: normal', lg_stale: 'Stale or no data yet',
			estimated: 'estimated from the latest PM2.5', sensors_n: 'sensors', sensor_1: 'sensor', max: 'highest',
			worst_aqi: 'Worst VN_AQI', salinity: 'Salinity', level: 'Water level', sort_hint: 'Sort',
			s: 's', m: 'min', h: 'h', d: 'd', level_word: 'level'
		}
	};
	const KINDS = {
		traffic_flow: ['Giao thông', 'Traffic'], air_quality: ['Không khí', 'Air quality'],
		noise: ['Tiếng ồn', 'Noise'], weather: ['Thời tiết', 'Weather'],
		water_level: ['Mực nước', 'Water level'], water_quality: ['Chất lượng nước', 'Water quality'],
		aqi: ['VN_AQI', 'VN_AQI'], device: ['Thiết bị', 'Device']
	};
	const STATES = {
		alerting: ['Cảnh báo', 'Alerting'], missing: ['Chưa có dữ liệu', 'Missing'],
		stale: ['Trễ dữ liệu', 'Stale'], ok: ['Bình thường', 'OK']
	};
	const STATE_ORDER = { alerting: 0, missing: 1, stale: 2, ok: 3 };
	const SEVERITIES = {
		critical: ['Khẩn cấp', 'Critical'], major: ['Nghiêm trọng', 'Major'],
		warning: ['Cảnh báo', 'Warning'], info: ['Thông tin', 'Info']
	};
	const SEVERITY_ORDER = { critical: 0, major: 1, warning: 2, info: 3 };
	/* VN_AQI categories, Decision 1459/QD-TCMT (2019): upper bound, names, colour class. */
	const AQI_CATS = [
		[50, 'Tốt', 'Good'], [100, 'Trung bình', 'Moderate'], [150, 'Kém', 'Poor'],
		[200, 'Xấu', 'Bad'], [300, 'Rất xấu', 'Very bad'], [Infinity, 'Nguy hại', 'Hazardous']
	];
	/* PM2.5 breakpoints of the same decision, for a station with no hourly index yet. */
	const PM25_BP = [[0, 0], [25, 50], [50, 100], [80, 150], [150, 200], [250, 300], [350, 400],
		[500, 500]];
	const FIELDS = {
		aqi: ['VN_AQI', 'VN_AQI'], aqi_vn: ['VN_AQI', 'VN_AQI'], pm1: ['PM1', 'PM1'],
		pm25: ['PM2.5', 'PM2.5'], pm10: ['PM10', 'PM10'], no2: ['NO₂', 'NO₂'], o3: ['O₃', 'O₃'],
		co: ['CO', 'CO'], so2: ['SO₂', 'SO₂'], temperature_c: ['Nhiệt độ', 'Temp.'],
		humidity: ['Độ ẩm', 'Humidity'], salinity_ppt: ['Độ mặn', 'Salinity'],
		level_m: ['Mực nước', 'Level'], flow_m3s: ['Lưu lượng', 'Flow'],
		vehicle_count: ['Lượt xe', 'Vehicles'], avg_speed_kmh: ['Tốc độ', 'Speed'],
		occupancy: ['Chiếm dụng', 'Occupancy'], laeq_db: ['LAeq', 'LAeq'], lamax_db: ['LAmax', 'LAmax'],
		rain_mm: ['Mưa', 'Rain'], wind_speed_ms: ['Gió', 'Wind'], pressure_hpa: ['Áp suất', 'Pressure'],
		conductivity_us_cm: ['EC', 'EC'], ph: ['pH', 'pH'], do_mg_l: ['DO', 'DO'],
		turbidity_ntu: ['Độ đục', 'Turbidity']
	};
	const SHOWN = {
		air_quality: ['aqi', 'aqi_vn', 'pm25', 'pm10', 'no2'],
		water_level: ['level_m', 'flow_m3s'], water_quality: ['salinity_ppt', 'conductivity_us_cm', 'ph'],
		traffic_flow: ['vehicle_count', 'avg_speed_kmh', 'occupancy'], noise: ['laeq_db', 'lamax_db'],
		weather: ['temperature_c', 'humidity', 'rain_mm', 'wind_speed_ms'], aqi: ['aqi']
	};
	const SPARK_FIELD = {
		air_quality: 'pm25', water_level: 'level_m', water_quality: 'salinity_ppt',
		traffic_flow: 'vehicle_count', noise: 'laeq_db', weather: 'temperature_c', aqi: 'aqi'
	};
	/* Canonical units of schemas/*.json, for readings of the stream (which carry none). */
	const CANONICAL = {
		pm1: 'ug/m3', pm25: 'ug/m3', pm10: 'ug/m3', no2: 'ug/m3', o3: 'ug/m3', co: 'ug/m3',
		so2: 'ug/m3', temperature_c: 'Cel', humidity: '/', laeq_db: 'dB', lamax_db: 'dB',
		vehicle_count: 'count', avg_speed_kmh: 'km/h', occupancy: '/', pressure_hpa: 'hPa',
		rain_mm: 'mm', wind_speed_ms: 'm/s', wind_dir_deg: 'deg', level_m: 'm', flow_m3s: 'm3/s',
		salinity_ppt: 'g/l', conductivity_us_cm: 'uS/cm', ph: 'pH', do_mg_l: 'mg/l',
		turbidity_ntu: 'NTU', battery_v: 'V', rssi_dbm: 'dBm', snr_db: 'dB'
	};
	const UNITS = {
		'ug/m3': 'µg/m³', 'm3/s': 'm³/s', Cel: '°C', 'g/l': 'g/L', 'uS/cm': 'µS/cm', 'mg/l': 'mg/L',
		dB: 'dBA', deg: '°', count: '', '1': '', pH: ''
	};

	const S = {
		lang: 'vi', token: '', sensors: new Map(), rows: new Map(), markers: new Map(),
		alerts: new Map(), recent: [], districts: [], sort: { key: 'district', dir: 1 },
		dirty: new Set(), dirtyAlerts: false, dirtyDistricts: false, frame: 0, loading: null,
		queued: [], historyQueue: [], historyActive: 0, districtsTimer: 0, lastDistricts: 0,
		lastEventId: '', stream: null, mapReady: false, filter: '',
		stats: { flushes: 0, rows: 0, totalMs: 0, maxMs: 0 } /* DOM work per frame, for the test */
	};
	const $ = (id) => document.getElementById(id);
	const L = () => (S.lang === 'vi' ? 0 : 1);
	const t = (key) => I18N[S.lang][key] || key;
	const SVGNS = 'http://www.w3.org/2000/svg';

	/* ---- formatting ---- */

	let fmt = null;
	function makeFormatters() {
		const loc = S.lang === 'vi' ? 'vi-VN' : 'en-GB';
		const opts = (o) => Object.assign({ timeZone: TZ, hour12: false }, o);
		fmt = {
			time: new Intl.DateTimeFormat(loc, opts({ hour: '2-digit', minute: '2-digit', second: '2-digit' })),
			day: new Intl.DateTimeFormat(loc, opts({ day: '2-digit', month: '2-digit' })),
			full: new Intl.DateTimeFormat(loc, opts({ year: 'numeric', month: '2-digit', day: '2-digit',
				hour: '2-digit', minute: '2-digit', second: '2-digit' })),
			n0: new Intl.NumberFormat(loc, { maximumFractionDigits: 0 }),
			n1: new Intl.NumberFormat(loc, { maximumFractionDigits: 1 }),
			n2: new Intl.NumberFormat(loc, { maximumFractionDigits: 2 }),
			n3: new Intl.NumberFormat(loc, { maximumFractionDigits: 3 })
		};
	}

	function num(v) {
		if (typeof v !== 'number' || !isFinite(v))
			return String(v);
		const a = Math.abs(v);
		return (a >= 100 ? fmt.n0 : a >= 10 ? fmt.n1 : a >= 1 ? fmt.n2 : fmt.n3).format(v);
	}

	/* A field's value and unit as shown: fractions ('/') as percent. */
	function valueText(field, v, unit) {
		if (typeof v === 'boolean')
			return v ? '✓' : '✗';
		if (unit === '/' && typeof v === 'number')
			return fmt.n0.format(v * 100) + ' %';
		const u = unit in UNITS ? UNITS[unit] : (unit || '');
		return num(v) + (u ? ' ' + u : '');
	}

	function when(iso) {
		if (!iso)
			return '—';
		const d = new Date(iso);
		if (isNaN(d))
			return '—';
		const today = fmt.day.format(new Date()) === fmt.day.format(d);
		return today ? fmt.time.format(d) : fmt.day.format(d) + ' ' + fmt.time.format(d);
	}

	function ago(iso) {
		const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
		if (!isFinite(s))
			return '';
		if (s < 60)
			return Math.round(s) + ' ' + t('s');
		if (s < 3600)
			return Math.round(s / 60) + ' ' + t('m');
		if (s < 86400)
			return fmt.n1.format(s / 3600) + ' ' + t('h');
		return fmt.n1.format(s / 86400) + ' ' + t('d');
	}

	function districtName(d) {
		if (!d)
			return '—';
		const m = /^phuong-(\d+)$/.exec(d);
		if (m)
			return (S.lang === 'vi' ? 'Phường ' : 'Ward ') + m[1];
		const known = { 'tan-long': ['Tân Long', 'Tan Long'], 'trung-an': ['Trung An', 'Trung An'],
			'dao-thanh': ['Đạo Thạnh', 'Dao Thanh'], 'my-phong': ['Mỹ Phong', 'My Phong'],
			'tan-my-chanh': ['Tân Mỹ Chánh', 'Tan My Chanh'], 'phuoc-thanh': ['Phước Thạnh', 'Phuoc Thanh'],
			'thoi-son': ['Thới Sơn', 'Thoi Son'] };
		return known[d] ? known[d][L()] : d;
	}

	const named = (table, key) => (table[key] ? table[key][L()] : key || '—');
	const sensorName = (s) => (S.lang === 'vi' ? s.name_vi || s.name_en : s.name_en || s.name_vi) || s.id;

	/* ---- colours ---- */

	function aqiCategory(v) {
		for (let i = 0; i < AQI_CATS.length; i++)
			if (v <= AQI_CATS[i][0])
				return i + 1;
		return 6;
	}

	function pm25Aqi(pm) {
		for (let i = 1; i < PM25_BP.length; i++) {
			const [c0, i0] = PM25_BP[i - 1], [c1, i1] = PM25_BP[i];
			if (pm <= c1)
				return Math.round(i0 + (i1 - i0) * (pm - c0) / (c1 - c0));
		}
		return 500;
	}

	const fieldValue = (s, f) => (s.values && s.values[f] && typeof s.values[f].value === 'number'
		? s.values[f].value : null);

	/* The station's VN_AQI: the hub's hourly index, else an estimate from the latest PM2.5. */
	function stationAqi(s) {
		const v = fieldValue(s, 'aqi') !== null ? fieldValue(s, 'aqi') : fieldValue(s, 'aqi_vn');
		if (v !== null)
			return { value: v, estimated: false };
		const pm = fieldValue(s, 'pm25');
		return pm !== null ? { value: pm25Aqi(pm), estimated: true } : null;
	}

	const salinityBand = (v) => (v >= 4 ? 3 : v >= 1 ? 2 : 1);
	const levelBand = (v) => (v >= 1.6 ? 4 : v >= 1.5 ? 3 : v >= 1.4 ? 2 : 1);

	/* Colour class of a sensor's marker and state badge. */
	function colourClass(s) {
		if (s.state === 'stale' || s.state === 'missing')
			return 'c-' + s.state;
		if (s.kind === 'air_quality' || s.kind === 'aqi') {
			const a = stationAqi(s);
			if (a)
				return 'c-aqi' + aqiCategory(a.value);
		} else if (s.kind === 'water_quality' && fieldValue(s, 'salinity_ppt') !== null) {
			return 'c-sal' + salinityBand(fieldValue(s, 'salinity_ppt'));
		} else if (s.kind === 'water_level' && fieldValue(s, 'level_m') !== null) {
			return 'c-lvl' + levelBand(fieldValue(s, 'level_m'));
		}
		if (s.state === 'alerting')
			return 'c-sev-' + (s.severity || 'warning');
		return 'c-ok';
	}

	/* ---- API ---- */

	function api(path) {
		const headers = { Accept: 'application/json' };
		if (S.token)
			headers.Authorization = 'Bearer ' + S.token;
		return fetch(path, { headers, cache: 'no-store' }).then((r) => {
			if (r.status === 401)
				throw Object.assign(new Error(t('err_token')), { status: 401 });
			if (!r.ok)
				throw Object.assign(new Error(t('err_api') + ' (' + path + ': HTTP ' + r.status + ')'),
					{ status: r.status });
			return r.json();
		});
	}

	function showError(msg) {
		const e = $('error');
		e.textContent = msg || '';
		e.hidden = !msg;
	}

	/* Loads the whole state; stream events that arrive meanwhile are applied after it. */
	function refetchAll() {
		if (S.loading)
			return S.loading;
		S.loading = Promise.all([api('/api/v1/sensors'), api('/api/v1/districts'), api('/api/v1/alerts')])
			.then(([sensors, districts, alerts]) => {
				loadSensors(sensors.sensors || []);
				S.districts = districts.districts || [];
				S.lastDistricts = Date.now();
				S.dirtyDistricts = true;
				loadAlerts(alerts);
				showError('');
			})
			.catch((e) => showError(e.message))
			.then(() => {
				S.loading = null;
				const q = S.queued;
				S.queued = [];
				q.forEach(([type, data]) => dispatch(type, data));
				schedule();
			});
		return S.loading;
	}

	function loadSensors(list) {
		const seen = new Set();
		list.forEach((s) => {
			seen.add(s.id);
			const old = S.sensors.get(s.id);
			s.values = s.values || {};
			if (old && old.spark)
				s.spark = old.spark;
			S.sensors.set(s.id, s);
			S.dirty.add(s.id);
		});
		for (const id of Array.from(S.sensors.keys()))
			if (!seen.has(id)) {
				S.sensors.delete(id);
				S.dirty.add(id);
			}
		S.resort = true;
	}

	const alertKey = (a) => a.rule + '\u0000' + a.sensor_id + '\u0000' + (a.level || '');

	function loadAlerts(body) {
		S.alerts = new Map();
		(body.active || []).forEach((a) => S.alerts.set(alertKey(a), a));
		S.recent = (body.recent || []).slice(-20).reverse();
		S.dirtyAlerts = true;
	}

	/* ---- stream ---- */

	function onReading(r) {
		let s = S.sensors.get(r.sensor_id);
		if (!s) {
			s = { id: r.sensor_id, kind: r.kind, district: r.district, state: 'ok', values: {},
				msgs_1h: 0 };
			S.sensors.set(s.id, s);
			S.resort = true;
		}
		const vals = r.values || {};
		for (const f in vals) {
			const v = vals[f];
			const obj = v !== null && typeof v === 'object' && 'value' in v ? v : { value: v };
			const prev = s.values[f] || {};
			s.values[f] = { value: obj.value, unit: obj.unit || prev.unit || CANONICAL[f],
				ts: obj.ts || r.ts };
			if (s.spark && s.spark.field === f && typeof obj.value === 'number')
				pushSpark(s, obj.ts || r.ts, obj.value);
		}
		s.last_ts = r.ts;
		s.last_seen = new Date().toISOString();
		if (s.state === 'missing' || s.state === 'stale')
			s.state = 'ok';
		s.msgs_1h = (s.msgs_1h || 0) + 1;
		S.dirty.add(s.id);
		districtsSoon();
	}

	function onSensor(e) {
		const s = S.sensors.get(e.sensor_id);
		if (!s)
			return;
		s.state = e.state;
		s.severity = e.severity || null;
		S.dirty.add(s.id);
		districtsSoon();
	}

	function onAlert(ev) {
		const key = alertKey(ev);
		if (ev.state === 'firing')
			S.alerts.set(key, { rule: ev.rule, sensor_id: ev.sensor_id, level: ev.level,
				severity: ev.severity, since: ev.at, value: ev.value, labels: ev.labels || {},
				annotations: ev.annotations || {} });
		else
			S.alerts.delete(key);
		S.recent.unshift(ev);
		S.recent.length = Math.min(S.recent.length, 20);
		S.dirtyAlerts = true;
	}

	const HANDLERS = { reading: onReading, sensor: onSensor, alert: onAlert };

	function dispatch(type, data) {
		if (S.loading) {
			S.queued.push([type, data]);
			return;
		}
		let obj;
		try {
			obj = JSON.parse(data);
		} catch (e) {
			return; /* a malformed event is skipped, the next full load repairs the screen */
		}
		HANDLERS[type](obj);
		schedule();
	}

	function setConn(state) {
		const c = $('conn');
		c.className = 'conn conn-' + state;
		c.dataset.i18n = 'conn_' + state;
		c.textContent = t('conn_' + state);
	}

	function onOpen() {
		setConn('live');
		refetchAll();
	}

	/* EventSource resumes by itself (sending Last-Event-ID); it gives up only when the hub
	 * answers with an error status, and then we start it again after a pause. */
	function connectEventSource() {
		const es = new EventSource('/api/v1/stream');
		S.stream = es;
		es.onopen = onOpen;
		es.onerror = () => {
			setConn('retry');
			if (es.readyState === EventSource.CLOSED)
				setTimeout(connectEventSource, 5000);
		};
		Object.keys(HANDLERS).forEach((type) =>
			es.addEventListener(type, (e) => dispatch(type, e.data)));
	}

	/* With a token: EventSource cannot send an Authorization header, so the stream is read with
	 * fetch and parsed here (same format, same resume with Last-Event-ID). */
	function connectFetchStream() {
		const headers = { Accept: 'text/event-stream', Authorization: 'Bearer ' + S.token };
		if (S.lastEventId)
			headers['Last-Event-ID'] = S.lastEventId;
		fetch('/api/v1/stream', { headers, cache: 'no-store' })
			.then((r) => {
				if (!r.ok || !r.body)
					throw new Error('HTTP ' + r.status);
				onOpen();
				return readEvents(r.body.getReader());
			})
			.catch(() => { })
			.then(() => {
				setConn('retry');
				setTimeout(connectFetchStream, 3000);
			});
	}

	function readEvents(reader) {
		const dec = new TextDecoder();
		let buf = '';
		const pump = () => reader.read().then(({ value, done }) => {
			if (done)
				return;
			buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
			let i;
			while ((i = buf.indexOf('\n\n')) >= 0) {
				parseEvent(buf.slice(0, i));
				buf = buf.slice(i + 2);
			}
			return pump();
		});
		return pump();
	}

	function parseEvent(block) {
		let type = 'message', data = [];
		block.split('\n').forEach((line) => {
			const c = line.indexOf(':');
			if (c === 0)
				return; /* comment (heartbeat) */
			const k = c < 0 ? line : line.slice(0, c);
			const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
			if (k === 'event')
				type = v;
			else if (k === 'data')
				data.push(v);
			else if (k === 'id')
				S.lastEventId = v;
		});
		if (data.length && HANDLERS[type])
			dispatch(type, data.join('\n'));
	}

	function districtsSoon() {
		if (S.districtsTimer)
			return;
		const wait = Math.max(0, S.lastDistricts + DISTRICTS_EVERY_MS - Date.now());
		S.districtsTimer = setTimeout(() => {
			S.districtsTimer = 0;
			S.lastDistricts = Date.now();
			api('/api/v1/districts').then((d) => {
				S.districts = d.districts || [];
				S.dirtyDistricts = true;
				schedule();
			}).catch(() => { });
		}, wait);
	}

	/* ---- rendering, once per frame ---- */

	function schedule() {
		if (!S.frame)
			S.frame = requestAnimationFrame(flush);
	}

	function flush() {
		const t0 = performance.now();
		S.frame = 0;
		const ids = S.dirty;
		S.dirty = new Set();
		ids.forEach((id) => {
			const s = S.sensors.get(id);
			if (s) {
				renderRow(s);
				renderMarker(s);
			} else {
				removeSensor(id);
			}
		});
		if (S.resort) {
			S.resort = false;
			sortRows();
		}
		if (S.dirtyAlerts) {
			S.dirtyAlerts = false;
			renderAlerts();
		}
		if (S.dirtyDistricts) {
			S.dirtyDistricts = false;
			renderDistricts();
		}
		$('sensor-count').textContent = S.sensors.size;
		const ms = performance.now() - t0;
		S.stats.flushes++;
		S.stats.rows += ids.size;
		S.stats.totalMs += ms;
		S.stats.maxMs = Math.max(S.stats.maxMs, ms);
	}

	function el(tag, cls, text) {
		const e = document.createElement(tag);
		if (cls)
			e.className = cls;
		if (text !== undefined)
			e.textContent = text;
		return e;
	}

	function removeSensor(id) {
		const row = S.rows.get(id);
		if (row)
			row.tr.remove();
		S.rows.delete(id);
		const m = S.markers.get(id);
		if (m)
			m.remove();
		S.markers.delete(id);
	}

	function makeRow(s) {
		const tr = el('tr');
		tr.dataset.id = s.id;
		const cells = {};
		['state', 'name', 'kind', 'district', 'values', 'seen', 'spark'].forEach((k) => {
			cells[k] = el(k === 'name' ? 'th' : 'td', 'col-' + k);
			tr.appendChild(cells[k]);
		});
		cells.name.scope = 'row';
		cells.badge = el('span', 'badge');
		cells.state.appendChild(cells.badge);
		cells.label = el('span', 'name');
		cells.sid = el('span', 'sid', s.id);
		cells.name.append(cells.label, cells.sid);
		const row = { tr, cells, sparkDrawn: null };
		S.rows.set(s.id, row);
		if (S.observer)
			S.observer.observe(cells.spark);
		cells.spark.dataset.id = s.id;
		$('sensor-rows').appendChild(tr);
		return row;
	}

	function renderRow(s) {
		const row = S.rows.get(s.id) || makeRow(s);
		const c = row.cells;
		row.tr.dataset.state = s.state;
		c.badge.className = 'badge ' + colourClass(s) + ' st-' + s.state;
		c.badge.textContent = s.state === 'alerting' && s.severity
			? named(SEVERITIES, s.severity) : named(STATES, s.state);
		c.label.textContent = sensorName(s);
		c.kind.textContent = named(KINDS, s.kind);
		c.district.textContent = districtName(s.district);
		renderValues(s, c.values);
		c.seen.textContent = when(s.last_seen);
		c.seen.title = s.last_seen ? fmt.full.format(new Date(s.last_seen)) : t('no_data');
		if (s.spark && row.sparkDrawn !== s.spark.version)
			drawSpark(s, row);
		row.tr.hidden = !matchesFilter(s);
	}

	function renderValues(s, td) {
		const fields = Object.keys(s.values || {});
		const order = SHOWN[s.kind] || [];
		const shown = order.filter((f) => f in s.values);
		fields.forEach((f) => {
			if (shown.length < 3 && !shown.includes(f) && FIELDS[f])
				shown.push(f);
		});
		td.textContent = '';
		if (!shown.length) {
			td.appendChild(el('span', 'muted', t('no_data')));
			return;
		}
		shown.slice(0, 4).forEach((f) => {
			const v = s.values[f];
			const span = el('span', 'val');
			span.dataset.field = f;
			span.dataset.raw = String(v.value);
			span.append(el('span', 'fname', named(FIELDS, f)), ' ', el('b', null, valueText(f, v.value, v.unit)));
			td.appendChild(span);
		});
		td.title = fields.map((f) => named(FIELDS, f) + ' ' + valueText(f, s.values[f].value,
			s.values[f].unit) + ' (' + when(s.values[f].ts) + ')').join('\n');
	}

	function renderMarker(s) {
		if (!S.mapReady || typeof s.lat !== 'number' || typeof s.lon !== 'number')
			return;
		let m = S.markers.get(s.id);
		if (!m) {
			m = document.createElementNS(SVGNS, 'g');
			m.setAttribute('class', 'marker');
			m.dataset.id = s.id;
			m.setAttribute('tabindex', '0');
			m.setAttribute('role', 'button');
			const x = (s.lon - MAP.lon0) * MAP.k, y = (MAP.lat0 - s.lat) * MAP.ky;
			m.setAttribute('transform', 'translate(' + x.toFixed(1) + ' ' + y.toFixed(1) + ')');
			const ring = document.createElementNS(SVGNS, 'circle');
			ring.setAttribute('class', 'ring');
			ring.setAttribute('r', '9');
			const dot = document.createElementNS(SVGNS, 'circle');
			dot.setAttribute('class', 'dot');
			dot.setAttribute('r', '5.5');
			const title = document.createElementNS(SVGNS, 'title');
			m.append(ring, dot, title);
			$('markers').appendChild(m);
			S.markers.set(s.id, m);
		}
		m.setAttribute('class', 'marker ' + colourClass(s) + ' st-' + s.state);
		const a = s.kind === 'air_quality' ? stationAqi(s) : null;
		const text = sensorName(s) + ' (' + s.id + ') – ' + named(KINDS, s.kind) + ', ' +
			districtName(s.district) + ': ' + named(STATES, s.state) +
			(a ? ', VN_AQI ' + a.value + (a.estimated ? ' (' + t('estimated') + ')' : '') : '');
		m.lastChild.textContent = text;
		m.setAttribute('aria-label', text);
	}

	/* ---- alerts ---- */

	function alertSummary(a) {
		const ann = a.annotations || {};
		const text = S.lang === 'vi' ? ann.summary_vi || ann.summary_en : ann.summary_en || ann.summary_vi;
		return text || a.rule + ' ' + a.sensor_id + (a.level ? ' ' + t('level_word') + ' ' + a.level : '');
	}

	function renderAlerts() {
		const list = Array.from(S.alerts.values()).sort((a, b) =>
			(SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]) ||
			String(b.since).localeCompare(String(a.since)));
		const ol = $('alerts');
		ol.textContent = '';
		list.forEach((a) => {
			const li = el('li', 'alert sev-' + a.severity);
			li.dataset.rule = a.rule;
			li.dataset.sensor = a.sensor_id;
			const head = el('div', 'alert-head');
			head.append(el('span', 'sev badge c-sev-' + a.severity, named(SEVERITIES, a.severity)));
			const s = S.sensors.get(a.sensor_id);
			head.append(el('span', 'alert-where', (s ? sensorName(s) : a.sensor_id) + ' · ' +
				districtName(s ? s.district : (a.labels || {}).district)));
			const since = el('time', 'alert-since', t('since') + ' ' + when(a.since) + ' (' + ago(a.since) +
				' ' + t('ago') + ')');
			since.dateTime = a.since || '';
			head.append(since);
			li.append(head, el('p', 'alert-summary', alertSummary(a)));
			ol.appendChild(li);
		});
		$('alert-count').textContent = list.length;
		$('no-alerts').hidden = list.length > 0;
		renderRecent();
	}

	/* The last transitions (firing, resolved), newest first. */
	function renderRecent() {
		const ol = $('recent');
		ol.textContent = '';
		S.recent.slice(0, 12).forEach((ev) => {
			const li = el('li', 'ev-' + ev.state);
			const s = S.sensors.get(ev.sensor_id);
			li.append(el('time', 'ev-at', when(ev.at)), ' ',
				el('span', 'badge c-sev-' + (ev.state === 'firing' ? ev.severity : 'info'),
					t(ev.state === 'firing' ? 'firing' : 'resolved')),
				' ' + ev.rule + (ev.level ? ' ' + ev.level : '') + ' · ' + (s ? sensorName(s) : ev.sensor_id));
			ol.appendChild(li);
		});
	}

	/* ---- districts ---- */

	function chip(label, value, cls, title) {
		const c = el('span', 'chip ' + (cls || ''));
		c.append(el('span', 'chip-l', label), ' ', el('b', null, value));
		if (title)
			c.title = title;
		return c;
	}

	function renderDistricts() {
		const box = $('districts');
		box.textContent = '';
		S.districts.slice().sort((a, b) => (b.alerting - a.alerting) || a.district.localeCompare(b.district))
			.forEach((d) => box.appendChild(districtCard(d)));
	}

	function districtCard(d) {
		const card = el('article', 'card' + (d.alerting ? ' card-alert' : ''));
		card.dataset.district = d.district;
		card.appendChild(el('h3', null, districtName(d.district)));
		const counts = el('p', 'counts');
		counts.append(el('span', 'n', d.sensors + ' ' + t(d.sensors === 1 ? 'sensor_1' : 'sensors_n')));
		['ok', 'alerting', 'stale', 'missing'].forEach((k) => {
			if (d[k])
				counts.append(el('span', 'n st-' + k, named(STATES, k) + ' ' + d[k]));
		});
		card.appendChild(counts);
		const chips = el('div', 'chips');
		if (d.worst_aqi) {
			const cat = aqiCategory(d.worst_aqi.value);
			chips.appendChild(chip('VN_AQI', num(d.worst_aqi.value) + ' ' + AQI_CATS[cat - 1][1 + L()],
				'c-aqi' + cat, t('worst_aqi') + ': ' + d.worst_aqi.sensor_id));
		}
		if (d.max_salinity_ppt)
			chips.appendChild(chip(t('salinity'), num(d.max_salinity_ppt.value) + ' g/L',
				'c-sal' + salinityBand(d.max_salinity_ppt.value), t('max') + ': ' + d.max_salinity_ppt.sensor_id));
		if (d.max_level_m)
			chips.appendChild(chip(t('level'), num(d.max_level_m.value) + ' m',
				'c-lvl' + levelBand(d.max_level_m.value), t('max') + ': ' + d.max_level_m.sensor_id));
		card.appendChild(chips);
		return card;
	}

	/* ---- table: sort and filter ---- */

	const SORT_KEYS = {
		state: (s) => STATE_ORDER[s.state] * 10 + (s.severity ? SEVERITY_ORDER[s.severity] : 9),
		name: (s) => sensorName(s).toLocaleLowerCase(),
		kind: (s) => named(KINDS, s.kind),
		district: (s) => (s.district || '').replace(/\d+/, (n) => n.padStart(3, '0')) + ' ' + s.id,
		last_seen: (s) => s.last_seen || ''
	};

	function sortRows() {
		const key = SORT_KEYS[S.sort.key], dir = S.sort.dir;
		const list = Array.from(S.sensors.values()).sort((a, b) => {
			const ka = key(a), kb = key(b);
			return (ka < kb ? -1 : ka > kb ? 1 : 0) * dir || (a.id < b.id ? -1 : 1);
		});
		const frag = document.createDocumentFragment();
		list.forEach((s) => {
			const row = S.rows.get(s.id);
			if (row)
				frag.appendChild(row.tr);
		});
		$('sensor-rows').appendChild(frag);
		document.querySelectorAll('#sensors th[data-sort]').forEach((th) => {
			const on = th.dataset.sort === S.sort.key;
			th.setAttribute('aria-sort', on ? (dir > 0 ? 'ascending' : 'descending') : 'none');
		});
	}

	function matchesFilter(s) {
		if (!S.filter)
			return true;
		const hay = [s.id, sensorName(s), s.kind, named(KINDS, s.kind), s.district, districtName(s.district)]
			.join(' ').toLocaleLowerCase();
		return hay.includes(S.filter);
	}

	/* ---- sparklines (last 24 h, loaded when the row scrolls into view) ---- */

	function wantSpark(id) {
		const s = S.sensors.get(id);
		if (!s || s.spark || s.sparkQueued || !SPARK_FIELD[s.kind])
			return;
		s.sparkQueued = true;
		S.historyQueue.push(id);
		pumpHistory();
	}

	function pumpHistory() {
		while (S.historyActive < MAX_HISTORY_FETCHES && S.historyQueue.length) {
			const id = S.historyQueue.shift();
			const s = S.sensors.get(id);
			if (!s)
				continue;
			const field = SPARK_FIELD[s.kind];
			S.historyActive++;
			api('/api/v1/sensors/' + encodeURIComponent(id) + '/history?field=' + field +
				'&since=' + HISTORY_SINCE + '&step=' + HISTORY_STEP)
				.then((h) => {
					s.spark = { field, unit: h.unit, points: (h.points || []).filter((p) => p[1] !== null)
						.map((p) => [Date.parse(p[0]), p[1]]), version: 1 };
				})
				.catch((e) => {
					s.spark = { field, points: [], version: 1, error: e.status === 503 ? t('store_down') : e.message };
					setTimeout(() => { s.spark = null; s.sparkQueued = false; }, 60000);
				})
				.then(() => {
					S.historyActive--;
					S.dirty.add(id);
					schedule();
					pumpHistory();
				});
		}
	}

	function pushSpark(s, ts, v) {
		const p = s.spark.points, at = Date.parse(ts);
		if (p.length && at <= p[p.length - 1][0])
			return;
		p.push([at, v]);
		while (p.length && p[0][0] < at - 86400000)
			p.shift();
		s.spark.version++;
	}

	function drawSpark(s, row) {
		const td = row.cells.spark, sp = s.spark;
		row.sparkDrawn = sp.version;
		td.textContent = '';
		if (sp.error || sp.points.length < 2) {
			td.appendChild(el('span', 'muted', sp.error ? '⚠' : '—'));
			td.title = sp.error || t('no_data');
			return;
		}
		const W = 120, H = 28, pts = sp.points;
		let lo = Infinity, hi = -Infinity;
		pts.forEach((p) => { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); });
		const t0 = Date.now() - 86400000, span = hi - lo || 1;
		const d = pts.map((p) => (Math.max(0, (p[0] - t0) / 86400000) * W).toFixed(1) + ',' +
			(H - 2 - (p[1] - lo) / span * (H - 4)).toFixed(1)).join(' ');
		const svg = document.createElementNS(SVGNS, 'svg');
		svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
		svg.setAttribute('class', 'spark');
		svg.setAttribute('role', 'img');
		const line = document.createElementNS(SVGNS, 'polyline');
		line.setAttribute('points', d);
		svg.appendChild(line);
		const label = named(FIELDS, sp.field) + ' 24 h: ' + valueText(sp.field, lo, sp.unit) + ' – ' +
			valueText(sp.field, hi, sp.unit);
		svg.setAttribute('aria-label', label);
		td.title = label;
		td.appendChild(svg);
	}

	/* ---- language, legend, map, clock ---- */

	function applyLanguage() {
		document.documentElement.lang = S.lang;
		makeFormatters();
		document.querySelectorAll('[data-i18n]').forEach((e) => { e.textContent = t(e.dataset.i18n); });
		document.title = t('title');
		const b = $('lang');
		b.textContent = t('lang_button');
		b.lang = S.lang === 'vi' ? 'en' : 'vi';
		b.setAttribute('aria-label', t('lang_button'));
		$('clock').setAttribute('aria-label', t('clock'));
		$('filter').setAttribute('aria-label', t('filter'));
		document.querySelectorAll('#labels [data-district]').forEach((e) => {
			e.textContent = districtName(e.dataset.district);
		});
		document.querySelectorAll('#labels [data-label]').forEach((e) => { e.textContent = t(e.dataset.label); });
		renderLegend();
		S.sensors.forEach((s, id) => S.dirty.add(id));
		S.rows.forEach((row) => { row.sparkDrawn = null; });
		S.dirtyAlerts = S.dirtyDistricts = true;
		schedule();
	}

	function renderLegend() {
		const ul = $('legend');
		ul.textContent = '';
		ul.setAttribute('aria-label', t('legend'));
		const group = (title, items) => {
			const li = el('li', 'lg-group');
			li.appendChild(el('span', 'lg-title', title));
			items.forEach(([cls, text]) => {
				const it = el('span', 'lg-item');
				it.append(el('span', 'swatch ' + cls), text);
				li.appendChild(it);
			});
			ul.appendChild(li);
		};
		group(t('lg_aqi'), AQI_CATS.map((c, i) => ['c-aqi' + (i + 1), c[1 + L()]]));
		group(t('lg_sal'), [['c-sal1', '< 1 g/L'], ['c-sal2', '1–4 g/L'], ['c-sal3', '≥ 4 g/L']]);
		group(t('lg_level'), [['c-lvl1', '< 1,40 m'], ['c-lvl2', 'I ≥ 1,40'], ['c-lvl3', 'II ≥ 1,50'],
			['c-lvl4', 'III ≥ 1,60']].map(([c, x]) => [c, S.lang === 'vi' ? x : x.replace(/,/g, '.')]));
		group('', [['c-ok', t('lg_other')], ['c-stale', t('lg_stale')]]);
	}

	function loadMap() {
		return fetch('/mytho-map.svg').then((r) => r.text()).then((text) => {
			const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
			const svg = document.importNode(doc.documentElement, true);
			$('map').appendChild(svg);
			S.mapReady = true;
			S.sensors.forEach((s, id) => S.dirty.add(id));
			applyLanguage();
		});
	}

	function tick() {
		$('clock').textContent = fmt.time.format(new Date());
		$('clock').dateTime = new Date().toISOString();
	}

	function wire() {
		$('lang').addEventListener('click', () => {
			S.lang = S.lang === 'vi' ? 'en' : 'vi';
			try { localStorage.setItem('cityhub.lang', S.lang); } catch (e) { /* private mode */ }
			applyLanguage();
		});
		document.querySelectorAll('#sensors th[data-sort] button').forEach((b) => {
			b.addEventListener('click', () => {
				const key = b.parentNode.dataset.sort;
				S.sort = { key, dir: S.sort.key === key ? -S.sort.dir : 1 };
				sortRows();
			});
		});
		$('filter').addEventListener('input', (e) => {
			S.filter = e.target.value.trim().toLocaleLowerCase();
			S.sensors.forEach((s, id) => S.dirty.add(id));
			schedule();
		});
		/* a marker (clicked, or Enter/Space when focused) shows its row in the table */
		const showRow = (e) => {
			const m = e.target.closest && e.target.closest('.marker');
			const row = m && S.rows.get(m.dataset.id);
			if (!row)
				return;
			e.preventDefault();
			row.tr.hidden = false;
			row.tr.scrollIntoView({ block: 'center' });
			row.tr.classList.add('flash');
			setTimeout(() => row.tr.classList.remove('flash'), 1500);
		};
		$('map').addEventListener('click', showRow);
		$('map').addEventListener('keydown', (e) => {
			if (e.key === 'Enter' || e.key === ' ')
				showRow(e);
		});
		if ('IntersectionObserver' in window)
			S.observer = new IntersectionObserver((entries) => entries.forEach((en) => {
				if (en.isIntersecting)
					wantSpark(en.target.dataset.id);
			}), { rootMargin: '200px' });
		setInterval(tick, 1000);
		setInterval(() => { S.dirtyAlerts = true; schedule(); }, 30000);
	}

	function start() {
		const q = new URLSearchParams(location.search);
		try {
			if (q.get('token'))
				sessionStorage.setItem('cityhub.token', q.get('token'));
			S.token = sessionStorage.getItem('cityhub.token') || '';
			S.lang = q.get('lang') || localStorage.getItem('cityhub.lang') || 'vi';
		} catch (e) {
			S.token = q.get('token') || '';
		}
		if (!I18N[S.lang])
			S.lang = 'vi';
		if (q.get('token'))
			history.replaceState(null, '', location.pathname); /* keep the token out of the address bar */
		makeFormatters();
		wire();
		tick();
		applyLanguage();
		loadMap().catch((e) => showError(e.message));
		if (!S.token && window.EventSource)
			connectEventSource();
		else
			connectFetchStream();
		refetchAll();
	}

	window.cityhubDashboard = S; /* for the browser test and the curious operator */
	start();
}());
